import ArgumentParser
import Foundation
import LedgerCore
import LedgerExport

/// Which runs a command looks at: an experiment, a filter, a lifecycle view (`stats`, `pareto`, and with an ordering
/// `runs search` and `export`).
struct SelectionOptions: ParsableArguments {
    @Option(help: "The experiment (name or id) whose runs to search.") var experiment: String
    @Option(
        help: ArgumentHelp(
            "A filter in the query language, e.g. \"metrics.total_cost < 100 and params.solver_type = 'hybrid'\".",
            valueName: "filter"
        )
    )
    var filter: String?
    @Option(help: "Which runs by lifecycle: active, deleted or all.") var view: ViewOption = .active

    enum ViewOption: String, ExpressibleByArgument, CaseIterable {
        case active, deleted, all
        var viewType: ViewType {
            switch self {
            case .active: .activeOnly
            case .deleted: .deletedOnly
            case .all: .all
            }
        }
    }

    /// Every matching run, unordered and unpaged.
    func query(in store: any TrackingStore) async throws -> RunQuery {
        let experiment = try await resolveExperiment(self.experiment, in: store)
        return RunQuery(experimentIDs: [experiment.id], filter: try Filter.parse(filter ?? ""), view: view.viewType)
    }
}

/// The query options shared by `runs search` and `export`: a selection and its ordering.
struct QueryOptions: ParsableArguments {
    @OptionGroup var selection: SelectionOptions
    @Option(
        name: .customLong("order-by"),
        help: ArgumentHelp("An ordering such as \"metrics.total_cost ASC\"; repeat for ties. Default: start_time DESC.", valueName: "key")
    )
    var orderBy: [String] = []

    func query(in store: any TrackingStore, limit: Int, pageToken: String?) async throws -> RunQuery {
        var query = try await selection.query(in: store)
        query.orderBy = try orderBy.map { text -> OrderKey in
            do {
                return try OrderKey.parse(text)
            } catch let error as LedgerError {
                throw LedgerError(error.code, "In --order-by '\(text)': \(error.message)", column: error.column)
            }
        }
        query.maxResults = limit
        query.pageToken = pageToken
        return query
    }
}

extension RunLedgerCommand {
    struct Runs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Search, inspect and reap runs.", subcommands: [Search.self, Show.self, Reap.self])

        struct Search: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Search the runs of an experiment with a filter and an ordering.",
                discussion: """
                    Examples:
                      runledger runs search --experiment energy-design-study --filter "params.solver_type = 'hybrid'" \\
                          --order-by "metrics.total_cost ASC" --limit 5
                      runledger runs search --experiment energy-design-study --filter "metrics.renewable_fraction > 0.8" --format json
                    When more runs match than --limit, the token for the next page is printed on stderr (or written to \
                    --page-token-file); pass it back with --page-token.
                    """
            )

            @OptionGroup var database: DatabaseOptions
            @OptionGroup var query: QueryOptions
            @Option(help: "At most this many runs (1…50000).") var limit = 100
            @Option(help: "The token printed by the previous page.") var pageToken: String?
            @Option(help: "Write the next page token to this file (emptied when there is no next page) instead of stderr.")
            var pageTokenFile: String?
            @Option(help: "Extra table columns such as metrics.total_co2 or params.pv_kw; repeat for more.") var columns: [String] = []
            @Option(help: "table for people; json (an array of runs) or csv for scripts.") var format: OutputFormat = .table

            func validate() throws {
                guard (1...Limits.maxSearchResults).contains(limit) else {
                    throw ValidationError("Please give --limit between 1 and \(Limits.maxSearchResults).")
                }
            }

            func run() async throws {
                try await reportingErrors {
                    try await database.reading { store in
                        let request = try await query.query(in: store, limit: limit, pageToken: pageToken)
                        let extra = try columns.map { text -> Field in try OrderKey.parse(text).field }
                        let page = try await store.searchRuns(request)
                        switch format {
                        case .json: print(JSONValue.array(page.runs.map(\.json)))
                        case .csv: print(RunTable(page.runs).csv(), terminator: "")
                        case .table:
                            var fields: [Field] = []
                            for field in request.orderBy.map(\.field) + request.filter.fields + extra where !fields.contains(field) {
                                fields.append(field)
                            }
                            if fields.isEmpty { fields = Set(page.runs.flatMap(\.params.keys)).sorted().map { .param($0) } }
                            fields.removeAll { $0 == .attribute(.runID) || $0 == .attribute(.runName) || $0 == .attribute(.status) }
                            var table = TextTable(headers: ["RUN ID", "NAME", "STATUS"] + fields.map(\.description))
                            table.numericColumns = Set(fields.indices.filter { fields[$0].isNumeric }.map { $0 + 3 })
                            table.rows = page.runs.map { run in
                                [run.info.runID.rawValue, run.info.name, run.info.status.rawValue] + fields.map { cell($0, of: run, forTable: true) }
                            }
                            print(table.rendered, terminator: "")
                            writeStandardError("\(page.runs.count) run(s)\(page.nextPageToken == nil ? "" : ", more available").\n")
                        }
                        if let pageTokenFile {
                            try (page.nextPageToken ?? "").write(toFile: pageTokenFile, atomically: true, encoding: .utf8)
                        } else if let token = page.nextPageToken {
                            writeStandardError("next page token: \(token)\n")
                        }
                    }
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show one run: attributes, params, latest metrics and tags.")

            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The run id (32 hexadecimal characters).") var runID: String
            @Option(help: "table for people, json for scripts.") var format: OutputFormat = .table

            func run() async throws {
                try await reportingErrors {
                    let id = try RunID.parse(runID)
                    try await database.reading { store in
                        let run = try await store.run(id)
                        switch format {
                        case .json: print(run.json)
                        case .table, .csv:
                            var table = TextTable(headers: ["FIELD", "VALUE"])
                            table.rows = [
                                ["run_id", run.info.runID.rawValue], ["run_name", run.info.name],
                                ["experiment_id", run.info.experimentID.description],
                                ["status", run.info.status.rawValue], ["start_time", formatTime(run.info.startTime)],
                                ["end_time", formatTime(run.info.endTime)],
                                ["lifecycle_stage", run.info.lifecycleStage.rawValue],
                            ]
                            table.rows += run.params.sorted { $0.key < $1.key }.map { ["params.\($0.key)", $0.value] }
                            table.rows += run.latestMetrics.sorted { $0.key < $1.key }.map { ["metrics.\($0.key)", formatNumber($0.value.value)] }
                            table.rows += run.tags.sorted { $0.key < $1.key }.map { ["tags.\($0.key)", $0.value] }
                            print(table.rendered, terminator: "")
                        }
                    }
                }
            }
        }
    }
}
