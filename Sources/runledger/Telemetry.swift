import ArgumentParser
import Foundation
import LedgerCore
import LedgerExport

/// A point in time as people write it: milliseconds since the epoch, or a duration ago (`15m`, `2h`, `7d`).
func parseTime(_ text: String, now: Int64 = WallClock.milliseconds()) throws(LedgerError) -> Int64 {
    if let milliseconds = Int64(text), milliseconds > 1_000_000_000_000 { return milliseconds }
    return now - (try DurationText.milliseconds(text))
}

extension RunLedgerCommand.Metrics {
    struct Latest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The newest points of some metrics, in one run or across an experiment, newest first.",
            discussion: """
                Read from an index, a bounded range per run and key: cheap even on long histories. Examples:
                  runledger metrics latest 0123…cdef --key soc --limit 100
                  runledger metrics latest --experiment scheduler-sim --key reward --key loss --limit 1000 --format json
                  runledger metrics latest --experiment scheduler-sim --key reward --since 1h
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "A run id (32 hexadecimal characters); or give --experiment.") var runID: String?
        @Option(help: "Read across every active run of this experiment (name or id) instead of one run.") var experiment: String?
        @Option(name: .customLong("key"), help: "A metric key; repeat for several.") var keys: [String] = []
        @Option(help: "At most this many points (1 to \(Limits.maxWindowPoints)).") var limit = 1000
        @Option(help: "Only points at or after this time: milliseconds since the epoch, or a duration ago (15m, 2h, 7d).") var since: String?
        @Option(help: "Only points before this time (same forms as --since).") var until: String?
        @Option(help: "table for people; json (an array of {run_id, key, value, timestamp, step}) or csv.") var format: OutputFormat = .table

        func validate() throws {
            guard (runID == nil) != (experiment == nil) else {
                throw ValidationError("Please give either a run id or --experiment, not both or neither.")
            }
            guard !keys.isEmpty else { throw ValidationError("Please name at least one metric with --key.") }
        }

        func run() async throws {
            try await reportingErrors {
                try await database.reading { store in
                    let scope: MetricWindow.Scope =
                        if let runID { .run(try RunID.parse(runID)) } else { .experiment(try await resolveExperiment(experiment!, in: store).id) }
                    let window = MetricWindow(
                        scope: scope, keys: keys, limit: limit, from: try since.map { text throws(LedgerError) in try parseTime(text) },
                        to: try until.map { text throws(LedgerError) in try parseTime(text) }
                    )
                    let samples = try await store.metricWindow(window)
                    switch format {
                    case .json: print(JSONValue.array(samples.map(\.json)))
                    case .csv:
                        print(
                            CSV.line(["run_id", "key", "step", "timestamp", "value"])
                                + samples.map {
                                    CSV.line([
                                        $0.runID.rawValue, $0.key, String($0.point.step), String($0.point.timestamp), formatNumber($0.point.value),
                                    ])
                                }
                                .joined(),
                            terminator: ""
                        )
                    case .table:
                        var table = TextTable(headers: ["RUN ID", "KEY", "STEP", "TIME (UTC)", "VALUE"], numericColumns: [2, 4])
                        table.rows = samples.map {
                            [$0.runID.rawValue, $0.key, String($0.point.step), formatTime($0.point.timestamp), formatForTable($0.point.value)]
                        }
                        print(table.rendered, terminator: "")
                    }
                }
            }
        }
    }
}

extension RunLedgerCommand {
    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Event logs (health checks, tool calls, warnings …): one run's, or across the runs of an experiment.",
            discussion: """
                Events are logged with the SDK's run.event(kind, message, level:, payload:) or POST /api/2.0/runledger/runs/log-events.
                  runledger events 0123…cdef --level warning --since 1h
                  runledger events search --experiment agents --kind health_check --level error --since 1h
                  runledger events summary --experiment agents --bucket 15m --since 1d --format csv
                """,
            subcommands: [Show.self, Search.self, Summary.self], defaultSubcommand: Show.self
        )
    }
}

/// The event conditions shared by every `events` command.
struct EventFilterOptions: ParsableArguments {
    @Option(name: .customLong("kind"), help: "Only events of this kind; repeat for several.") var kinds: [String] = []
    @Option(help: "Only events at or above this level: debug, info, warning or error.") var level = "debug"
    @Option(help: "Only events at or after this time: milliseconds since the epoch, or a duration ago (15m, 2h, 7d).") var since: String?
    @Option(help: "Only events before this time (same forms as --since).") var until: String?

    var minimumLevel: EventLevel { get throws { try EventLevel.parse(level) } }
    var from: Int64? { get throws { try since.map { text throws(LedgerError) in try parseTime(text) } } }
    var to: Int64? { get throws { try until.map { text throws(LedgerError) in try parseTime(text) } } }

    /// The search over the runs `selection` names.
    func search(_ selection: SelectionOptions, in store: any TrackingStore, limit: Int) async throws -> EventSearch {
        EventSearch(
            runs: try await selection.query(in: store), kinds: kinds, minimumLevel: try minimumLevel, from: try from, to: try to, limit: limit)
    }
}

/// Prints events as a table, JSON (`{run_id, sequence, timestamp, level, kind, message, payload}`) or CSV; `withRun`
/// adds the run's id to the table and the CSV.
func printEvents(_ events: [StoredEvent], format: OutputFormat, withRun: Bool) {
    switch format {
    case .json: print(JSONValue.array(events.map(\.json)))
    case .csv:
        let header = (withRun ? ["run_id"] : []) + ["timestamp", "level", "kind", "message", "payload"]
        let lines = events.map { stored in
            let event = stored.event
            return CSV.line(
                (withRun ? [stored.runID.rawValue] : []) + [
                    String(event.timestamp), event.level.rawValue, event.kind, event.message, event.payload ?? "",
                ])
        }
        print(CSV.line(header) + lines.joined(), terminator: "")
    case .table:
        var table = TextTable(headers: (withRun ? ["RUN ID"] : []) + ["TIME (UTC)", "LEVEL", "KIND", "MESSAGE", "PAYLOAD"])
        table.rows = events.map { stored in
            let event = stored.event
            return (withRun ? [stored.runID.rawValue] : []) + [
                formatTime(event.timestamp), event.level.rawValue, event.kind, event.message, event.payload ?? "",
            ]
        }
        print(table.rendered, terminator: "")
    }
}

extension RunLedgerCommand.Events {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A run's event log, newest first (the default: `runledger events RUN_ID` is `runledger events show RUN_ID`).",
            discussion: """
                  runledger events 0123…cdef --level warning --since 1h
                  runledger events 0123…cdef --kind tool_call --format json
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The run id (32 hexadecimal characters).") var runID: String
        @OptionGroup var conditions: EventFilterOptions
        @Option(help: "At most this many events (1 to \(Limits.maxWindowPoints)).") var limit = 1000
        @Option(help: "table for people; json (an array of {run_id, sequence, timestamp, level, kind, message, payload}) or csv.")
        var format: OutputFormat = .table

        func run() async throws {
            try await reportingErrors {
                let query = EventQuery(
                    runID: try RunID.parse(runID), kinds: conditions.kinds, minimumLevel: try conditions.minimumLevel, from: try conditions.from,
                    to: try conditions.to, limit: limit)
                try await database.reading { store in printEvents(try await store.runEvents(query), format: format, withRun: false) }
            }
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Events across the runs of an experiment that a filter matches, newest first.",
            discussion: """
                Read through an index on (kind, time): "every failed health check in the last hour" stays cheap on millions of events.
                  runledger events search --experiment agents --kind health_check --level error --since 1h
                  runledger events search --experiment agents --filter "params.model = 'small'" --limit 50 --format json
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var selection: SelectionOptions
        @OptionGroup var conditions: EventFilterOptions
        @Option(help: "At most this many events (1 to \(Limits.maxWindowPoints)).") var limit = 1000
        @Option(help: "table for people; json (an array of {run_id, sequence, timestamp, level, kind, message, payload}) or csv.")
        var format: OutputFormat = .table

        func run() async throws {
            try await reportingErrors {
                try await database.reading { store in
                    let search = try await conditions.search(selection, in: store, limit: limit)
                    printEvents(try await store.searchEvents(search), format: format, withRun: true)
                }
            }
        }
    }

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How many events of each kind and level fall in each time bucket, across the runs of an experiment.",
            discussion: """
                Buckets are aligned to the Unix epoch in UTC; a bucket is named by its first millisecond. At most \(Limits.summaryRows) rows:
                narrow --since/--until, name --kind, or widen --bucket beyond that.
                  runledger events summary --experiment agents --bucket 1h --since 1d
                  runledger events summary --experiment agents --kind tool_call --bucket 15m --format json
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var selection: SelectionOptions
        @OptionGroup var conditions: EventFilterOptions
        @Option(help: "The bucket width: 90s, 15m, 1h, 1d … (1 second to 3650 days).") var bucket = "1h"
        @Option(help: "table for people; json (an array of {bucket_start, kind, level, count}) or csv.") var format: OutputFormat = .table

        func run() async throws {
            try await reportingErrors {
                let width = try BucketWidth.parse(bucket)
                try await database.reading { store in
                    let counts = try await store.eventSummary(try await conditions.search(selection, in: store, limit: 1000), width: width)
                    switch format {
                    case .json: print(JSONValue.array(counts.map(\.json)))
                    case .csv:
                        let lines = counts.map { CSV.line([String($0.bucketStart), $0.kind, $0.level.rawValue, String($0.count)]) }
                        print(CSV.line(["bucket_start", "kind", "level", "count"]) + lines.joined(), terminator: "")
                    case .table:
                        var table = TextTable(headers: ["BUCKET START (UTC)", "KIND", "LEVEL", "COUNT"], numericColumns: [3])
                        table.rows = counts.map { [formatTime($0.bucketStart), $0.kind, $0.level.rawValue, String($0.count)] }
                        print(table.rendered, terminator: "")
                    }
                }
            }
        }
    }
}
