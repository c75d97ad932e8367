import ArgumentParser
import Foundation
import LedgerCore

extension RunLedgerCommand {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export runs to files.", subcommands: [CSVExport.self])

        struct CSVExport: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "csv",
                abstract: "Export the runs of an experiment as CSV, one row per run.",
                discussion: """
                    Columns: run_id, run_name, status, start_time, end_time (milliseconds since the epoch), then params.<key>, \
                    metrics.<key> (latest values) and tags.<key>, each sorted by key. RFC 4180 quoting, CRLF line ends.
                    """
            )

            @OptionGroup var database: DatabaseOptions
            @OptionGroup var query: QueryOptions
            @Option(help: "The CSV file to write.") var output: String

            func run() async throws {
                try await reportingErrors {
                    try await database.reading { store in
                        var request = try await query.query(in: store, limit: 1000, pageToken: nil)
                        var runs: [Run] = []
                        var progress = ProgressBar(total: 0, label: "Exporting runs:")
                        while true {
                            let page = try await store.searchRuns(request)
                            runs += page.runs
                            progress.update(runs.count)
                            guard let token = page.nextPageToken else { break }
                            request.pageToken = token
                        }
                        progress.finish()
                        do {
                            try runsCSV(runs).write(toFile: output, atomically: true, encoding: .utf8)
                        } catch {
                            throw LedgerError(.invalidParameterValue, "Cannot write '\(output)': \(error.localizedDescription)")
                        }
                        writeStandardError("Exported \(runs.count) run(s) to \(output).\n")
                    }
                }
            }
        }
    }
}
