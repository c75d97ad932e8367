import ArgumentParser
import LedgerCore
import LedgerExport

extension RunLedgerCommand {
    struct Experiments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Work with experiments.", subcommands: [List.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List experiments with their run counts.")

            @OptionGroup var database: DatabaseOptions
            @Option(help: "table for people, json for scripts (an array of {experiment_id, name, lifecycle_stage, creation_time, run_count}).")
            var format: OutputFormat = .table
            @Flag(help: "Include deleted experiments.") var all = false

            func run() async throws {
                try await reportingErrors {
                    try await database.reading { store in
                        let summaries = try await store.experiments(view: all ? .all : .activeOnly)
                        switch format {
                        case .json:
                            print(
                                JSONValue.array(
                                    summaries.map { summary in
                                        .object([
                                            ("experiment_id", .string(summary.experiment.id.description)),
                                            ("name", .string(summary.experiment.name)),
                                            ("lifecycle_stage", .string(summary.experiment.lifecycleStage.rawValue)),
                                            ("creation_time", .integer(summary.experiment.creationTime)),
                                            ("run_count", .integer(Int64(summary.runCount))),
                                        ])
                                    }))
                        case .csv:
                            var out = CSV.line(["experiment_id", "name", "lifecycle_stage", "creation_time", "run_count"])
                            for summary in summaries {
                                out += CSV.line([
                                    summary.experiment.id.description, summary.experiment.name, summary.experiment.lifecycleStage.rawValue,
                                    String(summary.experiment.creationTime), String(summary.runCount),
                                ])
                            }
                            print(out, terminator: "")
                        case .table:
                            var table = TextTable(headers: ["ID", "NAME", "STAGE", "CREATED", "RUNS", "LAST RUN"], numericColumns: [0, 4])
                            table.rows = summaries.map { summary in
                                [
                                    summary.experiment.id.description, summary.experiment.name, summary.experiment.lifecycleStage.rawValue,
                                    formatTime(summary.experiment.creationTime), String(summary.runCount), formatTime(summary.lastRunStartTime),
                                ]
                            }
                            print(table.rendered, terminator: "")
                        }
                    }
                }
            }
        }
    }
}
