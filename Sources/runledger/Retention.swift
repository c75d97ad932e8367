import ArgumentParser
import Foundation
import LedgerCore

extension RunLedgerCommand {
    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retention policies: how much metric history and how many events to keep.",
            discussion: """
                A policy covers one experiment (or all) and the metric keys and event kinds its glob matches, and removes \
                points older than --max-age and, per run and key, all but the newest --max-points. Runs keep their \
                latest values (KPIs); only history goes. `runledger prune` applies the policies; `runledger serve` \
                applies them periodically (--prune-every).
                  runledger retention set --experiment scheduler-sim --keys 'sample_*' --max-points 1000
                  runledger retention set --all --max-age 30d
                """,
            subcommands: [Set.self, List.self, Remove.self]
        )

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add a retention policy.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "The experiment (name or id) the policy covers.") var experiment: String?
            @Flag(help: "Cover every experiment.") var all = false
            @Option(help: "Metric keys and event kinds covered: a glob with * and ? (default: every key).") var keys = "*"
            @Option(help: "Remove points and events older than this: 90s, 30m, 12h, 7d, 2w or milliseconds.") var maxAge: String?
            @Option(help: "Keep at most this many points per run and key (the newest).") var maxPoints: Int?
            @Option(help: "table or json.") var format: OutputFormat = .table

            func validate() throws {
                guard (experiment == nil) != !all else { throw ValidationError("Please give either --experiment NAME or --all.") }
                guard maxAge != nil || maxPoints != nil else { throw ValidationError("Please give --max-age, --max-points or both.") }
            }

            func run() async throws {
                try await reportingErrors {
                    let age = try maxAge.map { text throws(LedgerError) in try DurationText.milliseconds(text) }
                    try await database.writing { store in
                        var scope: ExperimentID? = nil
                        if let experiment { scope = try await resolveExperiment(experiment, in: store).id }
                        let policy = try await store.addRetentionPolicy(
                            RetentionPolicy(experimentID: scope, keyGlob: keys, maxAge: age, maxPointsPerKey: maxPoints))
                        if format == .json { print(policy.json) } else { print("Added retention policy \(policy.id): \(describe(policy)).") }
                    }
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the retention policies.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "table or json (an array of {id, experiment_id, key_glob, max_age_ms, max_points_per_key, created_at}).") var format:
                OutputFormat = .table

            func run() async throws {
                try await reportingErrors {
                    try await database.reading { store in
                        let policies = try await store.retentionPolicies()
                        if format == .json {
                            print(JSONValue.array(policies.map(\.json)))
                            return
                        }
                        var table = TextTable(
                            headers: ["ID", "EXPERIMENT", "KEYS", "MAX AGE", "MAX POINTS", "CREATED (UTC)"], numericColumns: [0, 4])
                        table.rows = policies.map {
                            [
                                String($0.id), $0.experimentID?.description ?? "all", $0.keyGlob, $0.maxAge.map(formatDuration) ?? "-",
                                $0.maxPointsPerKey.map(String.init) ?? "-", formatTime($0.createdAt),
                            ]
                        }
                        print(table.rendered, terminator: "")
                    }
                }
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a retention policy by id (see `retention list`).")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The policy's id.") var id: Int64

            func run() async throws {
                try await reportingErrors {
                    try await database.writing { store in try await store.removeRetentionPolicy(id: id) }
                    print("Removed retention policy \(id).")
                }
            }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the retention policies now, in bounded batches, with a progress bar and a summary.",
            discussion: "Each pass removes at most --batch points in one short transaction, so ingestion goes on while pruning runs."
        )
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Count what would go and change nothing.") var dryRun = false
        @Option(help: "Points removed per transaction.") var batch = 10_000
        @Option(
            help: "Rest this many times as long as each pass took, to leave the database to writers (e.g. 4: pruning gets about 20 % of the time).")
        var rest = 0.0
        @Option(help: "table or json (an array of {policy, points, events}).") var format: OutputFormat = .table

        func validate() throws {
            guard batch > 0 else { throw ValidationError("Please give a --batch of at least 1.") }
            guard rest >= 0 && rest <= 100 else { throw ValidationError("Please give --rest between 0 and 100.") }
        }

        func run() async throws {
            try await reportingErrors {
                let body: (any TrackingStore) async throws -> Void = { store in
                    var progress = ProgressBar(total: 0, label: dryRun ? "Counting" : "Pruning")
                    let rest = rest
                    let report = try await store.pruneAll(
                        now: WallClock.milliseconds(), budget: batch, dryRun: dryRun, pacing: { took in try? await Task.sleep(for: took * rest) },
                        progress: { _, count in progress.update(count.points + count.events) }
                    )
                    progress.finish()
                    if format == .json {
                        print(
                            JSONValue.array(
                                report.map {
                                    .object([
                                        ("policy", $0.0.json), ("points", .integer(Int64($0.1.points))), ("events", .integer(Int64($0.1.events))),
                                    ])
                                }))
                        return
                    }
                    if report.isEmpty {
                        print("No retention policies (add one with `runledger retention set`).")
                        return
                    }
                    var table = TextTable(
                        headers: [
                            "POLICY", "COVERS", dryRun ? "POINTS TO REMOVE" : "POINTS REMOVED", dryRun ? "EVENTS TO REMOVE" : "EVENTS REMOVED",
                        ], numericColumns: [0, 2, 3])
                    table.rows = report.map { [String($0.0.id), describe($0.0), String($0.1.points), String($0.1.events)] }
                    print(table.rendered, terminator: "")
                    let points = report.reduce(0) { $0 + $1.1.points }
                    let events = report.reduce(0) { $0 + $1.1.events }
                    print(
                        dryRun
                            ? "Dry run: \(points) point(s) and \(events) event(s) would go; nothing was changed."
                            : "Removed \(points) point(s) and \(events) event(s).")
                }
                if dryRun { try await database.reading(body) } else { try await database.writing(body) }
            }
        }
    }
}

/// A policy in words: `experiment 3, keys soc*: older than 7d, beyond 1000 points`.
func describe(_ policy: RetentionPolicy) -> String {
    var limits: [String] = []
    if let age = policy.maxAge { limits.append("older than \(formatDuration(age))") }
    if let points = policy.maxPointsPerKey { limits.append("beyond \(points) points per run and key") }
    return "\(policy.experimentID.map { "experiment \($0)" } ?? "every experiment"), keys \(policy.keyGlob): \(limits.joined(separator: ", "))"
}

/// Milliseconds in the largest whole unit: `7d`, `90s`, `1500ms`.
func formatDuration(_ milliseconds: Int64) -> String {
    for (unit, size) in [("w", Int64(604_800_000)), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where milliseconds % size == 0 {
        return "\(milliseconds / size)\(unit)"
    }
    return "\(milliseconds)ms"
}
