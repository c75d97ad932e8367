import ArgumentParser
import LedgerCore
import LedgerExport

extension RunLedgerCommand {
    struct Metrics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read metric histories and their newest points.", subcommands: [History.self, Latest.self])

        struct History: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print every point of one metric of a run, ordered by step, then timestamp."
            )

            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The run id (32 hexadecimal characters).") var runID: String
            @Argument(help: "The metric key, e.g. soc.") var key: String
            @Option(help: "table for people; json (an array of {step, timestamp, value}) or csv for scripts.") var format: OutputFormat = .table

            func run() async throws {
                try await reportingErrors {
                    let id = try RunID.parse(runID)
                    try await database.reading { store in
                        let points = try await store.metricHistory(runID: id, key: key)
                        switch format {
                        case .json:
                            print(
                                JSONValue.array(
                                    points.map {
                                        .object([("step", .integer($0.step)), ("timestamp", .integer($0.timestamp)), ("value", .number($0.value))])
                                    }))
                        case .csv:
                            print(
                                CSV.line(["step", "timestamp", "value"])
                                    + points.map { CSV.line([String($0.step), String($0.timestamp), formatNumber($0.value)]) }.joined(),
                                terminator: "")
                        case .table:
                            var table = TextTable(headers: ["STEP", "TIMESTAMP", "VALUE"], numericColumns: [0, 1, 2])
                            table.rows = points.map { [String($0.step), String($0.timestamp), formatNumber($0.value)] }
                            print(table.rendered, terminator: "")
                        }
                    }
                }
            }
        }
    }
}
