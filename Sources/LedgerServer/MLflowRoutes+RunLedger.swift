import Foundation
import Hummingbird
import LedgerCore
import LedgerExport

/// RunLedger's extension routes under `/api/2.0/runledger/`, in MLflow's conventions: what RunLedger's own remote
/// client and the dashboard need beyond MLflow's API (exactly-once batches, listings with run counts, reaping,
/// downsampled histories, statistics, Pareto fronts).
extension MLflowRoutes {
    static let runLedgerPrefix = "/api/2.0/runledger/"

    var runLedgerRoutes: [Route] {
        let prefixes = [Self.runLedgerPrefix]
        let selection = [
            Parameter("experiment_ids", .array(.string), required: true), Parameter("filter", .string),
            Parameter("run_view_type", .enumeration(ViewType.allCases.map(\.rawValue))),
        ]
        let exportParameters = [
            Parameter("order_by", .array(.string)), Parameter("columns", .array(.string)), Parameter("format", .enumeration(["csv", "xlsx"])),
        ]
        return [
            Route(
                .post, "batches", "Apply a write batch (RunLedger's binary encoding, base64) in one transaction, at most once per batch id.",
                writes: true, [Parameter("batch", .string, required: true)],
                .object([("outcome", .enumeration(["applied", "already_applied"]))], required: ["outcome"]), prefixes: prefixes, writeBatch
            ),
            Route(
                .get, "experiments/list", "Experiments in a view with their run counts and latest run start.", writes: false,
                [Parameter("view_type", .enumeration(ViewType.allCases.map(\.rawValue)))],
                .object(
                    [
                        (
                            "experiments",
                            .array(
                                .object(
                                    [("experiment", .reference("Experiment")), ("run_count", .integer), ("last_run_start_time", .integer)],
                                    required: ["experiment", "run_count"]))
                        )
                    ],
                    required: ["experiments"]
                ),
                prefixes: prefixes, listExperiments
            ),
            Route(
                .get, "metrics/get-history-bucketed",
                "A metric's history (or the part from min_step to max_step) in at most max_buckets buckets of equal step width, each with its min, max, mean and last value.",
                writes: false,
                [
                    Parameter("run_id", .pattern("^[0-9a-fA-F]{32}$"), required: true), Parameter("metric_key", .string, required: true),
                    Parameter("max_buckets", .int64), Parameter("min_step", .int64), Parameter("max_step", .int64),
                ],
                .object(
                    [
                        ("points", .integer),
                        (
                            "buckets",
                            .array(
                                .object(
                                    [
                                        ("first_step", .integer), ("last_step", .integer), ("count", .integer), ("min", .metricValue),
                                        ("max", .metricValue),
                                        ("mean", .metricValue), ("last", .metricValue),
                                    ],
                                    required: ["first_step", "last_step", "count", "min", "max", "mean", "last"]
                                )
                            )
                        ),
                    ],
                    required: ["points", "buckets"]
                ),
                prefixes: prefixes, bucketedHistory
            ),
            Route(
                .post, "runs/statistics",
                "Count, mean, stddev, min, max, p50, p90, p99 of a metric's latest value over the runs a filter matches, optionally grouped by params.NAME or tags.NAME.",
                writes: false, selection + [Parameter("metric", .string, required: true), Parameter("group_by", .string)],
                .object([("groups", .array(.reference("GroupStatistics")))], required: ["groups"]), prefixes: prefixes, statistics
            ),
            Route(
                .post, "runs/pareto",
                "The runs a filter matches that no other dominates on two or more objectives, best first by the first objective.",
                writes: false,
                selection + [
                    Parameter(
                        "objectives",
                        .array(.object([("metric", .string), ("goal", .enumeration(Goal.allCases.map(\.rawValue)))], required: ["metric", "goal"])),
                        required: true
                    )
                ],
                .object([("runs", .array(.reference("Run")))], required: ["runs"]), prefixes: prefixes, pareto
            ),
            Route(
                .post, "runs/trend",
                "Convergence: every matching run that has the metric, in start-time order, with its latest value and the best so far (per group with group_by).",
                writes: false,
                selection + [
                    Parameter("metric", .string, required: true), Parameter("goal", .enumeration(Goal.allCases.map(\.rawValue)), required: true),
                    Parameter("group_by", .string),
                ],
                .object(
                    [
                        (
                            "points",
                            .array(
                                .object(
                                    [
                                        ("run_id", .string), ("run_name", .string), ("start_time", .int64), ("group", .nullable(.string)),
                                        ("value", .metricValue), ("best_so_far", .nullable(.metricValue)),
                                    ],
                                    required: ["run_id", "run_name", "start_time", "value"]))
                        )
                    ],
                    required: ["points"]),
                prefixes: prefixes, trend
            ),
            Route(
                .post, "metrics/aggregate",
                "Count, sum, mean, min, max and numpy's p50, p90, p99 of metrics over the runs a filter matches, per bucket (1h, 15m, 90s, 1d or milliseconds of time, aligned to the epoch; or steps:N) and per group of group_by, with points in [since, until); NaN values left out; at most 10000 buckets.",
                writes: false,
                selection + [
                    Parameter("metrics", .array(.string), required: true), Parameter("bucket", .string, required: true),
                    Parameter("group_by", .string), Parameter("since", .int64), Parameter("until", .int64),
                ],
                .object(
                    [
                        (
                            "buckets",
                            .array(
                                .object(
                                    [
                                        ("metric", .string), ("group", .nullable(.string)), ("bucket_start", .int64), ("count", .int64),
                                        ("sum", .metricValue), ("mean", .metricValue), ("min", .metricValue), ("max", .metricValue),
                                        ("p50", .metricValue), ("p90", .metricValue), ("p99", .metricValue),
                                    ],
                                    required: ["metric", "group", "bucket_start", "count", "sum", "mean", "min", "max", "p50", "p90", "p99"]))
                        )
                    ],
                    required: ["buckets"]),
                prefixes: prefixes, aggregate
            ),
            Route(
                .get, "runs/export", Self.exportSummary, selection + exportParameters, fileTypes: Self.exportTypes, prefixes: prefixes, export
            ),
            Route(
                .post, "runs/export", Self.exportSummary, selection + exportParameters, fileTypes: Self.exportTypes, prefixes: prefixes, export
            ),
            Route(
                .post, "runs/reap", "Mark RUNNING runs whose heartbeat is older than heartbeat_before as KILLED, ending them at end_time.",
                writes: true, [Parameter("heartbeat_before", .int64, required: true), Parameter("end_time", .int64)],
                .object([("run_ids", .array(.string))], required: ["run_ids"]), prefixes: prefixes, reapRuns
            ),
            Route(
                .get, "runs/deleted", "Runs deleted at or before deleted_before (epoch ms), oldest first: what runledger gc collects.",
                writes: false, [Parameter("deleted_before", .int64, required: true)],
                .object(
                    [("runs", .array(.object([("run_id", .string), ("artifact_uri", .string), ("deleted_time", .int64)])))], required: ["runs"]),
                prefixes: prefixes
            ) { fields in
                let runs = try await self.store.deletedRuns(before: try fields.requiredInt64("deleted_before"))
                return .object([
                    (
                        "runs",
                        .array(
                            runs.map { run in
                                .object([
                                    ("run_id", .string(run.runID.rawValue)), ("artifact_uri", .string(run.artifactURI)),
                                    ("deleted_time", .integer(run.deletedTime)),
                                ])
                            })
                    )
                ])
            },
        ] + telemetryRoutes
    }

    @Sendable func writeBatch(_ fields: RequestFields) async throws -> JSONValue {
        let text = try fields.requiredString("batch")
        guard let data = Data(base64Encoded: text) else {
            throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "The batch is not base64: send RunLedger's binary batch encoding, base64-encoded.")
        }
        let batch = try WriteBatch(decoding: [UInt8](data))
        let outcome = try await store.write(batch)
        return .object([("outcome", .string(outcome == .applied ? "applied" : "already_applied"))])
    }

    @Sendable func listExperiments(_ fields: RequestFields) async throws -> JSONValue {
        let view =
            try fields.string("view_type").map { text in
                guard let view = ViewType(rawValue: text.uppercased()) else {
                    throw APIError(
                        .badRequest, "INVALID_PARAMETER_VALUE",
                        "Invalid view_type '\(text.prefix(100))': valid values are ACTIVE_ONLY, DELETED_ONLY and ALL.")
                }
                return view
            } ?? .activeOnly
        let summaries = try await store.experiments(view: view)
        return .object([
            (
                "experiments",
                .array(
                    summaries.map { summary in
                        var members: [(String, JSONValue)] = [
                            ("experiment", MLflowJSON.experiment(summary.experiment)), ("run_count", .integer(Int64(summary.runCount))),
                        ]
                        if let last = summary.lastRunStartTime { members.append(("last_run_start_time", .integer(last))) }
                        return .object(members)
                    }
                )
            )
        ])
    }

    @Sendable func bucketedHistory(_ fields: RequestFields) async throws -> JSONValue {
        let maximum = try fields.int64("max_buckets") ?? 1000
        guard (1...10_000).contains(maximum) else {
            throw APIError(
                .badRequest, "INVALID_PARAMETER_VALUE", "Invalid value \(maximum) for parameter 'max_buckets': it must be between 1 and 10000.")
        }
        let lowest = try fields.int64("min_step") ?? .min
        let highest = try fields.int64("max_step") ?? .max
        guard lowest <= highest else {
            throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "min_step \(lowest) is above max_step \(highest): give a range from low to high.")
        }
        let (points, buckets) = try await store.bucketedHistory(
            runID: try fields.runID(), key: try fields.requiredString("metric_key"), maximum: Int(maximum), steps: lowest...highest)
        let bucketValues = buckets.map { bucket -> JSONValue in
            .object([
                ("first_step", .integer(bucket.firstStep)), ("last_step", .integer(bucket.lastStep)), ("count", .integer(Int64(bucket.count))),
                ("min", .number(bucket.min)), ("max", .number(bucket.max)), ("mean", .number(bucket.mean)), ("last", .number(bucket.last)),
            ])
        }
        return .object([("points", .integer(Int64(points))), ("buckets", .array(bucketValues))])
    }

    /// A query over whole experiments: statistics and fronts need experiments named, not a page of them.
    private func selection(_ fields: RequestFields) throws -> RunQuery {
        let query = try runQuery(fields)
        guard !query.experimentIDs.isEmpty else { throw APIError.missing("experiment_ids") }
        return query
    }

    @Sendable func statistics(_ fields: RequestFields) async throws -> JSONValue {
        let query = try selection(fields)
        let groupBy = try fields.string("group_by").map { text throws(LedgerError) in try GroupKey(parsing: text) }
        let groups = try await store.statistics(query, metric: try fields.requiredString("metric"), groupBy: groupBy)
        return .object([("groups", .array(groups.map(\.json)))])
    }

    @Sendable func trend(_ fields: RequestFields) async throws -> JSONValue {
        let query = try selection(fields)
        let groupBy = try fields.string("group_by").map { text throws(LedgerError) in try GroupKey(parsing: text) }
        let points = try await store.trend(
            query, metric: try fields.requiredString("metric"), goal: try Self.goal(fields.requiredString("goal")), groupBy: groupBy)
        return .object([("points", .array(points.map(\.json)))])
    }

    @Sendable func aggregate(_ fields: RequestFields) async throws -> JSONValue {
        var runs = try selection(fields)
        // The runs' order and page do not apply to their points.
        (runs.orderBy, runs.maxResults, runs.pageToken) = ([], 1000, nil)
        let metrics = try fields.strings("metrics")
        guard !metrics.isEmpty else { throw APIError.missing("metrics") }
        let aggregation = MetricAggregation(
            runs: runs, metrics: metrics, bucketing: try AggregateBucketing(parsing: try fields.requiredString("bucket")),
            groupBy: try fields.string("group_by").map { text throws(LedgerError) in try GroupKey(parsing: text) },
            since: try fields.int64("since"), until: try fields.int64("until"))
        return .object([("buckets", .array(try await store.aggregate(aggregation).map(\.json)))])
    }

    /// `minimize` or `maximize`, in any case.
    static func goal(_ text: String) throws -> Goal {
        guard let goal = Goal(rawValue: text.lowercased()) else {
            throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "Invalid goal '\(text.prefix(100))': valid values are minimize and maximize.")
        }
        return goal
    }

    @Sendable func pareto(_ fields: RequestFields) async throws -> JSONValue {
        let query = try selection(fields)
        let objectives = try fields.objects("objectives").map { item in
            Objective(metric: try item.requiredString("metric"), goal: try Self.goal(try item.requiredString("goal")))
        }
        let runs = try await store.paretoFront(query, objectives: objectives)
        return .object([("runs", .array(runs.map(MLflowJSON.run)))])
    }

    static let exportSummary = """
        Every run a filter matches, in order_by's order, as CSV (RFC 4180) or an Excel workbook; columns as in \
        `runledger export` (default: run_id, run_name, status, start_time, end_time, then every param, metric and tag).
        """
    static let exportTypes = ["text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]

    @Sendable func export(_ fields: RequestFields) async throws -> File {
        var query = try selection(fields)
        let format = (try fields.string("format") ?? "csv").lowercased()
        guard format == "csv" || format == "xlsx" else {
            throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "Invalid format '\(format.prefix(100))': valid values are csv and xlsx.")
        }
        let columns = try fields.strings("columns")
        let name = "runs-" + query.experimentIDs.map(\.description).joined(separator: "-")
        query.maxResults = 1000
        query.pageToken = nil
        // Errors (a bad column, filter or store) still answer as JSON: the layout is decided, and the first page read,
        // before the response starts.
        let chosen: RunTable.Layout
        if columns.isEmpty {
            // The default columns are every key any run has: one pass over the keys first, holding no runs.
            var keys = RunTable.Layout.Keys()
            var scan = query
            while true {
                let page = try await store.searchRuns(scan)
                for run in page.runs { keys.add(run) }
                guard let token = page.nextPageToken else { break }
                scan.pageToken = token
            }
            chosen = RunTable.Layout(defaultFor: keys)
        } else {
            chosen = try RunTable.Layout(columns: columns)
        }
        let first = try await store.searchRuns(query)
        if format == "xlsx" {
            // A workbook is one zip: built whole, so it is bounded by the runs Excel holds in one sheet.
            var runs = first.runs
            var token = first.nextPageToken
            while let next = token {
                guard runs.count < Self.workbookRuns else {
                    throw APIError(
                        .badRequest, "INVALID_PARAMETER_VALUE",
                        "An XLSX export holds at most \(Self.workbookRuns) runs (one Excel sheet); narrow the filter or export CSV, which has no limit."
                    )
                }
                query.pageToken = next
                let page = try await store.searchRuns(query)
                runs += page.runs
                token = page.nextPageToken
            }
            let bytes = [UInt8](try RunTable(runs, layout: chosen).xlsx())
            return File(body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)), contentType: Self.exportTypes[1], filename: name + ".xlsx")
        }
        // CSV streams page by page: an export of a million runs holds one page at a time.
        let store = self.store
        let startQuery = query
        let body = ResponseBody { writer in
            var buffer = ByteBuffer(string: chosen.csvHeader)
            var page = first
            var pageQuery = startQuery
            while true {
                for run in page.runs { buffer.writeString(chosen.csvLine(run)) }
                try await writer.write(buffer)
                buffer.clear()
                guard let token = page.nextPageToken else { break }
                pageQuery.pageToken = token
                page = try await store.searchRuns(pageQuery)
            }
            try await writer.finish(nil)
        }
        return File(body: body, contentType: Self.exportTypes[0] + "; charset=utf-8", filename: name + ".csv")
    }

    /// Runs one XLSX export may hold: an Excel sheet's rows, less the header.
    static let workbookRuns = 1_048_575

    @Sendable func reapRuns(_ fields: RequestFields) async throws -> JSONValue {
        let before = try fields.requiredInt64("heartbeat_before")
        let reaped = try await store.reapRuns(heartbeatBefore: before, endTime: try fields.int64("end_time") ?? clock())
        return .object([("run_ids", .array(reaped.map { .string($0.rawValue) }))])
    }
}
