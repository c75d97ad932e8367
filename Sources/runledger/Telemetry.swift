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
            abstract: "A run's event log (health checks, tool calls, warnings …), newest first.",
            discussion: """
                Events are logged with the SDK's run.event(kind, message, level:, payload:) or POST /api/2.0/runledger/runs/log-events.
                  runledger events 0123…cdef --level warning --since 1h
                  runledger events 0123…cdef --kind tool_call --format json
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The run id (32 hexadecimal characters).") var runID: String
        @Option(name: .customLong("kind"), help: "Only events of this kind; repeat for several.") var kinds: [String] = []
        @Option(help: "Only events at or above this level: debug, info, warning or error.") var level = "debug"
        @Option(help: "Only events at or after this time: milliseconds since the epoch, or a duration ago (15m, 2h, 7d).") var since: String?
        @Option(help: "Only events before this time (same forms as --since).") var until: String?
        @Option(help: "At most this many events.") var limit = 1000
        @Option(help: "table for people; json (an array of {run_id, sequence, timestamp, level, kind, message, payload}).") var format: OutputFormat =
            .table

        func run() async throws {
            try await reportingErrors {
                let query = EventQuery(
                    runID: try RunID.parse(runID), kinds: kinds, minimumLevel: try EventLevel.parse(level),
                    from: try since.map { text throws(LedgerError) in try parseTime(text) },
                    to: try until.map { text throws(LedgerError) in try parseTime(text) },
                    limit: limit
                )
                try await database.reading { store in
                    let events = try await store.runEvents(query)
                    switch format {
                    case .json: print(JSONValue.array(events.map(\.json)))
                    case .csv:
                        print(
                            CSV.line(["timestamp", "level", "kind", "message", "payload"])
                                + events.map {
                                    CSV.line([
                                        String($0.event.timestamp), $0.event.level.rawValue, $0.event.kind, $0.event.message, $0.event.payload ?? "",
                                    ])
                                }
                                .joined(),
                            terminator: ""
                        )
                    case .table:
                        var table = TextTable(headers: ["TIME (UTC)", "LEVEL", "KIND", "MESSAGE", "PAYLOAD"])
                        table.rows = events.map {
                            [formatTime($0.event.timestamp), $0.event.level.rawValue, $0.event.kind, $0.event.message, $0.event.payload ?? ""]
                        }
                        print(table.rendered, terminator: "")
                    }
                }
            }
        }
    }
}
