import ArgumentParser
import LedgerCore
import LedgerExport

extension RunLedgerCommand {
    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Statistics of a KPI over an experiment's runs, optionally grouped by a param or tag.",
            discussion: """
                Count, mean, stddev, min, max, p50, p90 and p99 of each run's latest value of --metric; runs without it \
                are left out. With --group-by, one row per value of the param or tag (runs without it last, as group \
                null in JSON).
                Example:
                  runledger stats --experiment energy-design-study --metric total_cost --group-by params.solver_type
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var selection: SelectionOptions
        @Option(help: "The KPI, e.g. total_cost (or metrics.total_cost).") var metric: String
        @Option(name: .customLong("group-by"), help: ArgumentHelp("params.NAME or tags.NAME.", valueName: "key")) var groupBy: String?
        @Option(help: "table for people, json for scripts.") var format: OutputFormat = .table

        func validate() throws {
            if format == .csv { throw ValidationError("Please give --format table or json.") }
            if let groupBy {
                do { _ = try GroupKey(parsing: groupBy) } catch { throw ValidationError(error.message) }
            }
        }

        func run() async throws {
            try await reportingErrors {
                try await database.reading { store in
                    let query = try await selection.query(in: store)
                    let groups = try await store.statistics(
                        query, metric: metric, groupBy: try groupBy.map { text throws(LedgerError) in try GroupKey(parsing: text) })
                    switch format {
                    case .json: print(JSONValue.array(groups.map(\.json)))
                    case .table, .csv:
                        var table = TextTable(headers: [groupBy ?? "GROUP", "COUNT", "MEAN", "STDDEV", "MIN", "MAX", "P50", "P90", "P99"])
                        table.numericColumns = Set(1...8)
                        table.rows = groups.map { row in
                            let s = row.summary
                            return [row.group ?? (groupBy == nil ? "(all)" : "(none)"), String(s.count)]
                                + [s.mean, s.stddev, s.min, s.max, s.p50, s.p90, s.p99].map(formatNumber)
                        }
                        print(table.rendered, terminator: "")
                        if groups.isEmpty { writeStandardError("No run has the metric \(Objective.metricName(metric)).\n") }
                    }
                }
            }
        }
    }

    struct Pareto: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The Pareto front of an experiment's runs over two or more KPIs.",
            discussion: """
                Prints the runs no other run beats on every objective at once (at least as good on all, better on one), \
                best first by the first objective. Runs missing any of the KPIs are left out.
                Example:
                  runledger pareto --experiment energy-design-study --minimize total_cost --minimize total_co2 \\
                      --maximize renewable_fraction --format json
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var selection: SelectionOptions
        @Option(help: ArgumentHelp("A KPI to make small; repeat for more.", valueName: "metric")) var minimize: [String] = []
        @Option(help: ArgumentHelp("A KPI to make large; repeat for more.", valueName: "metric")) var maximize: [String] = []
        @Option(help: "table for people; json (an array of runs, as runs search prints them) or csv for scripts.") var format: OutputFormat = .table

        /// In the order given on the command line, so that the first named objective orders the output.
        var objectives: [Objective] {
            let arguments = CommandLine.arguments
            func position(_ flag: String, _ metric: String) -> Int {
                arguments.indices.first { arguments[$0] == flag && $0 + 1 < arguments.count && arguments[$0 + 1] == metric } ?? arguments.count
            }
            let all =
                minimize.map { ($0, Goal.minimize, position("--minimize", $0)) } + maximize.map { ($0, Goal.maximize, position("--maximize", $0)) }
            return all.sorted { $0.2 < $1.2 }.map { Objective(metric: $0.0, goal: $0.1) }
        }

        func validate() throws {
            guard minimize.count + maximize.count >= 2 else {
                throw ValidationError("Please name at least two objectives with --minimize and --maximize.")
            }
        }

        func run() async throws {
            try await reportingErrors {
                try await database.reading { store in
                    let query = try await selection.query(in: store)
                    let objectives = objectives
                    let front = try await store.paretoFront(query, objectives: objectives)
                    switch format {
                    case .json: print(JSONValue.array(front.map(\.json)))
                    case .csv: print(RunTable(front).csv(), terminator: "")
                    case .table:
                        var table = TextTable(
                            headers: ["RUN ID", "NAME"] + objectives.map { "\($0.goal == .minimize ? "min" : "max") \($0.metric)" })
                        table.numericColumns = Set(objectives.indices.map { $0 + 2 })
                        table.rows = front.map { run in
                            [run.info.runID.rawValue, run.info.name] + objectives.map { formatNumber(run.latestMetrics[$0.metric]?.value ?? .nan) }
                        }
                        print(table.rendered, terminator: "")
                        writeStandardError("\(front.count) run(s) on the front.\n")
                    }
                }
            }
        }
    }

    struct Trend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Is a study converging? Each run's KPI in start-time order, with the best so far.",
            discussion: """
                Every run the filter matches that has --metric, oldest first, with its latest value and the best value of \
                it and all earlier runs (per group with --group-by). Runs without the metric are left out; a NaN value is \
                listed but never best.
                Example:
                  runledger trend --experiment energy-design-study --metric total_cost --minimize --group-by params.solver_type
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var selection: SelectionOptions
        @Option(help: "The KPI, e.g. total_cost (or metrics.total_cost).") var metric: String
        @Flag(help: "Smaller is better.") var minimize = false
        @Flag(help: "Larger is better.") var maximize = false
        @Option(name: .customLong("group-by"), help: ArgumentHelp("params.NAME or tags.NAME: a best so far per value.", valueName: "key"))
        var groupBy: String?
        @Option(help: "table for people; json (an array of {run_id, run_name, start_time, group, value, best_so_far}) or csv.")
        var format: OutputFormat = .table

        func validate() throws {
            guard minimize != maximize else { throw ValidationError("Please give exactly one of --minimize and --maximize.") }
            if let groupBy {
                do { _ = try GroupKey(parsing: groupBy) } catch { throw ValidationError(error.message) }
            }
        }

        func run() async throws {
            try await reportingErrors {
                try await database.reading { store in
                    let points = try await store.trend(
                        try await selection.query(in: store), metric: metric, goal: minimize ? .minimize : .maximize,
                        groupBy: try groupBy.map { text throws(LedgerError) in try GroupKey(parsing: text) })
                    switch format {
                    case .json: print(JSONValue.array(points.map(\.json)))
                    case .csv:
                        let lines = points.map { point in
                            CSV.line([
                                point.runID.rawValue, point.runName, String(point.startTime), point.group ?? "", formatNumber(point.value),
                                point.bestSoFar.map(formatNumber) ?? "",
                            ])
                        }
                        print(CSV.line(["run_id", "run_name", "start_time", "group", "value", "best_so_far"]) + lines.joined(), terminator: "")
                    case .table:
                        var table = TextTable(
                            headers: ["RUN ID", "NAME", "STARTED (UTC)", groupBy ?? "GROUP", metric, "BEST SO FAR"], numericColumns: [4, 5])
                        table.rows = points.map { point in
                            [
                                point.runID.rawValue, point.runName, formatTime(point.startTime), point.group ?? "", formatForTable(point.value),
                                point.bestSoFar.map(formatForTable) ?? "",
                            ]
                        }
                        print(table.rendered, terminator: "")
                    }
                }
            }
        }
    }

    struct Aggregate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Statistics of metrics across an experiment's runs, per bucket of time or steps, optionally per param or tag.",
            discussion: """
                For each --metric: count, sum, mean, min, max, p50, p90 and p99 (numpy's default interpolation) of the points \
                of the runs the filter matches, per bucket: a width of time (90s, 15m, 1h, 1d …, aligned to the Unix epoch in \
                UTC; a bucket is named by its first millisecond) or steps:N (named by its first step). NaN values are left \
                out. At most \(Limits.summaryRows) buckets (metrics × groups × buckets): narrow --since/--until or the filter, \
                or widen --bucket, beyond that.
                Examples:
                  runledger aggregate --experiment scheduler-sim --metric queue_length --bucket 1h --since 1d
                  runledger aggregate --experiment energy-design-study --metric soc --bucket steps:24 --group-by params.solver_type --format json
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var selection: SelectionOptions
        @Option(name: .customLong("metric"), help: "A metric key; repeat for several.") var metrics: [String]
        @Option(help: "The bucket: a width of time (90s, 15m, 1h, 1d; 1 second to 3650 days) or steps:N.") var bucket: String
        @Option(name: .customLong("group-by"), help: ArgumentHelp("params.NAME or tags.NAME: one series per value.", valueName: "key"))
        var groupBy: String?
        @Option(help: "Only points at or after this time: milliseconds since the epoch, or a duration ago (15m, 2h, 7d).") var since: String?
        @Option(help: "Only points before this time (same forms as --since).") var until: String?
        @Option(help: "table for people; json (an array of {metric, group, bucket_start, count, sum, mean, min, max, p50, p90, p99}) or csv.")
        var format: OutputFormat = .table

        func validate() throws {
            do {
                _ = try AggregateBucketing(parsing: bucket)
                if let groupBy { _ = try GroupKey(parsing: groupBy) }
            } catch { throw ValidationError(error.message) }
        }

        func run() async throws {
            try await reportingErrors {
                let bucketing = try AggregateBucketing(parsing: bucket)
                try await database.reading { store in
                    let aggregation = MetricAggregation(
                        runs: try await selection.query(in: store), metrics: metrics, bucketing: bucketing,
                        groupBy: try groupBy.map { text throws(LedgerError) in try GroupKey(parsing: text) },
                        since: try since.map { text throws(LedgerError) in try parseTime(text) },
                        until: try until.map { text throws(LedgerError) in try parseTime(text) })
                    let rows = try await store.aggregate(aggregation)
                    switch format {
                    case .json: print(JSONValue.array(rows.map(\.json)))
                    case .csv:
                        let lines = rows.map { row in
                            CSV.line(
                                [row.metric, row.group ?? "", String(row.bucketStart), String(row.count)]
                                    + [row.sum, row.mean, row.min, row.max, row.p50, row.p90, row.p99].map(formatNumber))
                        }
                        let header = ["metric", "group", "bucket_start", "count", "sum", "mean", "min", "max", "p50", "p90", "p99"]
                        print(CSV.line(header) + lines.joined(), terminator: "")
                    case .table:
                        var table = TextTable(
                            headers: [
                                "METRIC", groupBy ?? "GROUP", bucketing.isTime ? "BUCKET (UTC)" : "FIRST STEP", "COUNT", "SUM", "MEAN", "MIN", "MAX",
                            ]
                                + ["P50", "P90", "P99"])
                        table.numericColumns = Set(3...10)
                        table.rows = rows.map { row in
                            [
                                row.metric, row.group ?? (groupBy == nil ? "(all)" : "(none)"),
                                bucketing.isTime ? formatTime(row.bucketStart) : String(row.bucketStart), String(row.count),
                            ] + [row.sum, row.mean, row.min, row.max, row.p50, row.p90, row.p99].map(formatForTable)
                        }
                        print(table.rendered, terminator: "")
                        if rows.isEmpty { writeStandardError("No point of \(metrics.joined(separator: ", ")) in the runs and time range given.\n") }
                    }
                }
            }
        }
    }
}
