import ArgumentParser
import Foundation
import LedgerCore
import LedgerExport

extension RunLedgerCommand {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the runs of an experiment as CSV or as an Excel workbook.",
            discussion: """
                Examples:
                  runledger export csv --experiment energy-design-study --output runs.csv
                  runledger export xlsx --experiment energy-design-study --filter "params.solver_type = 'hybrid'" \\
                      --order-by "metrics.total_cost ASC" --columns run_name,params.solver_type,metrics.total_cost --output hybrid.xlsx
                """,
            subcommands: [CSVExport.self, XLSXExport.self]
        )

        /// What both formats share: the database, the selection, the columns and the file.
        struct Options: ParsableArguments {
            @OptionGroup var database: DatabaseOptions
            @OptionGroup var query: QueryOptions
            @Option(
                help: ArgumentHelp(
                    "Comma-separated columns: run_id, run_name, status, experiment_id, user_id, lifecycle_stage, start_time, end_time, "
                        + "params.KEY, metrics.KEY, tags.KEY. Default: run_id, run_name, status, start_time, end_time, then every param, "
                        + "metric (latest value) and tag, each sorted by key.",
                    valueName: "list"
                )
            )
            var columns: String?
            @Option(help: "The file to write (replaced atomically).") var output: String

            /// Reads every matching run, builds the table and writes `encode(table)` to the output file.
            func export(format: String, _ encode: @escaping (RunTable) throws -> Data) async throws {
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
                        let chosen = columns.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
                        let table = try chosen.map { columns throws(LedgerError) in try RunTable(runs, columns: columns) } ?? RunTable(runs)
                        do {
                            try encode(table).write(to: URL(fileURLWithPath: output), options: .atomic)
                        } catch {
                            throw LedgerError(.invalidParameterValue, "Cannot write '\(output)': \(error.localizedDescription)")
                        }
                        writeStandardError("Exported \(runs.count) run(s), \(table.columns.count) column(s), to \(output) (\(format)).\n")
                    }
                }
            }
        }

        struct CSVExport: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "csv",
                abstract: "Export runs as CSV, one row per run.",
                discussion: "RFC 4180 quoting, CRLF line ends; times in milliseconds since the epoch; NaN and infinities spelled out."
            )

            @OptionGroup var options: Options

            func run() async throws {
                try await options.export(format: "CSV") { Data($0.csv().utf8) }
            }
        }

        struct XLSXExport: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "xlsx",
                abstract: "Export runs as an Excel workbook (.xlsx), one row per run.",
                discussion: """
                    One sheet, "Runs", with a frozen bold header row. Metrics are numbers (NaN and infinities, which a \
                    spreadsheet cannot hold as numbers, are text); times are milliseconds since the epoch.
                    """
            )

            @OptionGroup var options: Options

            func run() async throws {
                try await options.export(format: "XLSX") { try $0.xlsx() }
            }
        }
    }
}
