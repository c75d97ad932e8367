import ArgumentParser
import Foundation
import LedgerCore
import RunLedger

extension RunLedgerCommand {
    struct SpoolCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "spool",
            abstract: "Inspect and replay the SDK's spool (batches kept while the database was unavailable).",
            discussion: """
                A ledger spools batches under its spool folder (default ./.runledger-spool), one sub-folder per process, \
                and replays them itself when the database is back or when the next ledger starts. These commands do the \
                same by hand.
                """,
            subcommands: [Status.self, Replay.self]
        )

        struct SpoolOption: ParsableArguments {
            @Option(help: "The spool folder (the SDK's spoolDirectory).") var spool = ".runledger-spool"
            var url: URL { URL(fileURLWithPath: spool) }
        }

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show what is waiting in the spool. Changes nothing.")
            @OptionGroup var spool: SpoolOption
            @Option(help: "table, or json: an array of {folder, segment, database, records, items, bytes, problem}.") var format: OutputFormat =
                .table

            func run() async throws {
                let rows = Spool.folders(in: spool.url).flatMap { folder in
                    Spool.segments(in: folder).map { (folder.lastPathComponent, Spool.read($0)) }
                }
                switch format {
                case .json:
                    print(
                        JSONValue.array(
                            rows.map { folder, segment in
                                .object([
                                    ("folder", .string(folder)), ("segment", .string(segment.url.lastPathComponent)),
                                    ("database", segment.identity.map { .string($0) } ?? .null),
                                    ("records", .integer(Int64(segment.count))), ("items", .integer(Int64(segment.items))),
                                    ("bytes", .integer(Int64(segment.bytes))), ("problem", segment.problem.map { .string($0) } ?? .null),
                                ])
                            }))
                case .table, .csv:
                    var table = TextTable(
                        headers: ["FOLDER", "SEGMENT", "DATABASE", "RECORDS", "ITEMS", "BYTES", "PROBLEM"], numericColumns: [3, 4, 5])
                    table.rows = rows.map { folder, segment in
                        [
                            folder, segment.url.lastPathComponent, segment.identity ?? "", String(segment.count), String(segment.items),
                            String(segment.bytes), segment.problem ?? "",
                        ]
                    }
                    print(table.rendered, terminator: "")
                    if rows.isEmpty { writeStandardError("The spool at \(spool.spool) is empty.\n") }
                }
                let staged = Ledger.stagedArtifacts(in: spool.url)
                if staged.count > 0 {
                    writeStandardError(
                        "\(staged.count) artifact file(s), \(staged.bytes) bytes, staged for upload; `runledger spool replay` sends them.\n")
                }
            }
        }

        struct Replay: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Send everything waiting in the spool to the database, exactly once, then remove it.",
                discussion: """
                    Folders still held by a running process are left to that process. Torn or corrupt records are reported \
                    and skipped. A folder written for another database (spool status shows which) is left alone unless \
                    --any-database is given.
                    """
            )
            @OptionGroup var database: DatabaseOptions
            @OptionGroup var artifacts: ArtifactOptions
            @OptionGroup var spool: SpoolOption
            @Flag(help: "Replay folders written for another database into this one too.") var anyDatabase = false

            func run() async throws {
                try await reportingErrors {
                    let total = Spool.folders(in: spool.url).flatMap(Spool.segments(in:)).map(Spool.read).reduce(0) { $0 + $1.items }
                    let staged = Ledger.stagedArtifacts(in: spool.url).count
                    guard total > 0 || staged > 0 else {
                        writeStandardError("Nothing to replay in \(spool.spool).\n")
                        return
                    }
                    let location = try database.location
                    let files = staged == 0 ? nil : try artifacts.store(for: location, token: database.serverToken)
                    try await database.writing { store in
                        let configuration = LedgerConfiguration(
                            spoolDirectory: spool.url, replaysAnyDatabase: anyDatabase, logger: cliLogger(), artifacts: files)
                        let ledger = Ledger(store: store, configuration: configuration)
                        try await withThrowingTaskGroup(of: Bool.self) { group in
                            group.addTask {
                                try await ledger.run()
                                return true
                            }
                            group.addTask {
                                await ledger.close()  // closing replays everything the spool holds
                                return false
                            }
                            group.addTask {
                                var progress = ProgressBar(total: total, label: "Replaying")
                                while !Task.isCancelled {
                                    progress.update(min(total, ledger.statistics.replayed + ledger.statistics.rejected))
                                    try? await Task.sleep(for: .milliseconds(100))
                                }
                                progress.update(min(total, ledger.statistics.replayed + ledger.statistics.rejected))
                                progress.finish()
                                return false
                            }
                            while let writerFinished = try await group.next() {
                                if writerFinished { group.cancelAll() }
                            }
                        }
                        let statistics = ledger.statistics
                        for problem in ledger.problems { writeStandardError("warning: \(problem.message)\n") }
                        let left = Spool.folders(in: spool.url).flatMap(Spool.segments(in:)).filter { $0.pathExtension == "rlspool" }
                        print(
                            "Replayed \(statistics.replayed) item(s); \(statistics.rejected) refused; \(statistics.tornRecords) torn record(s) skipped."
                                + (staged > 0 ? " Uploaded \(statistics.artifactsUploaded) artifact file(s)." : "")
                        )
                        if statistics.artifactsPending > 0 {
                            throw LedgerError(
                                .storeUnavailable,
                                "\(statistics.artifactsPending) artifact file(s) are still staged (the artifact store or the database is unavailable, "
                                    + "or their runs are not in it yet). Try again later.")
                        }
                        if !left.isEmpty {
                            throw LedgerError(
                                .storeUnavailable,
                                "\(left.count) spool segment(s) are still waiting (the database is unavailable, a running process owns them, or they were "
                                    + "written for another database: see 'runledger spool status'). Try again later, or give --any-database."
                            )
                        }
                    }
                }
            }
        }
    }
}

extension RunLedgerCommand.Runs {
    struct Reap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mark RUNNING runs whose heartbeat stopped as KILLED.",
            discussion:
                "A run's process sends a heartbeat while the run is open; a run silent for longer than --older-than has lost its process. Runs that never sent a heartbeat (MLflow clients send none) are left alone."
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "How long a run may be silent: 90s, 5m, 2h, 1d.") var olderThan = "5m"

        func validate() throws {
            guard (try? DurationText.milliseconds(olderThan)) != nil else {
                throw ValidationError("Please give --older-than as a number with s, m, h or d, e.g. 5m.")
            }
        }

        func run() async throws {
            try await reportingErrors {
                let now = WallClock.milliseconds()
                let reaped = try await database.writing { store in
                    try await store.reapRuns(heartbeatBefore: now - (try DurationText.milliseconds(olderThan)), endTime: now)
                }
                for id in reaped { print(id.rawValue) }
                writeStandardError("Marked \(reaped.count) run(s) KILLED.\n")
            }
        }
    }
}
