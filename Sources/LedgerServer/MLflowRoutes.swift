import Foundation
import Hummingbird
import LedgerCore
import Metrics

/// MLflow's tracking REST API 2.0 over a ``TrackingStore``: the routes the official clients call.
struct MLflowRoutes: Sendable {
    let store: any TrackingStore
    let clock: @Sendable () -> Int64
    let bodyLimits: BodyLimits
    private let pointsIngested = Counter(label: "runledger_points_ingested_total")

    init(store: any TrackingStore, clock: @escaping @Sendable () -> Int64, bodyLimits: BodyLimits) {
        self.store = store
        self.clock = clock
        self.bodyLimits = bodyLimits
    }

    /// Every MLflow route: method, path below the API prefix, whether it writes, what it takes and returns, and its
    /// handler. The router, the authentication rules and `/openapi.json` are all built from this one table.
    var routes: [Route] {
        let runID = [Parameter("run_id", .pattern("^[0-9a-fA-F]{32}$")), Parameter("run_uuid", .pattern("^[0-9a-fA-F]{32}$"))]
        let experimentID = Parameter("experiment_id", .pattern("^[0-9]+$"), required: true)
        let keyValues = Schema.array(.reference("KeyValue"))
        let empty = Schema.object([])
        let metric = Schema.object(
            [("key", .string), ("value", .metricValue), ("timestamp", .int64), ("step", .int64)], required: ["key", "value", "timestamp"]
        )
        let searchExperiments = [
            Parameter("max_results", .int64), Parameter("page_token", .string), Parameter("filter", .string), Parameter("order_by", .array(.string)),
            Parameter("view_type", .enumeration(ViewType.allCases.map(\.rawValue))),
        ]
        let experiments = Schema.object([("experiments", .array(.reference("Experiment"))), ("next_page_token", .string)], required: ["experiments"])
        let searchRuns = [
            Parameter("experiment_ids", .array(.string)), Parameter("filter", .string),
            Parameter("run_view_type", .enumeration(ViewType.allCases.map(\.rawValue))),
            Parameter("max_results", .int64), Parameter("order_by", .array(.string)), Parameter("page_token", .string),
        ]
        let runs = Schema.object([("runs", .array(.reference("Run"))), ("next_page_token", .string)], required: ["runs"])
        let run = Schema.object([("run", .reference("Run"))], required: ["run"])
        let experiment = Schema.object([("experiment", .reference("Experiment"))], required: ["experiment"])
        return [
            Route(
                .post, "experiments/create", "Create an experiment.", writes: true,
                [Parameter("name", .string, required: true), Parameter("artifact_location", .string), Parameter("tags", keyValues)],
                .object([("experiment_id", .string)], required: ["experiment_id"]), createExperiment
            ),
            Route(.get, "experiments/get", "An experiment by id.", writes: false, [experimentID], experiment, getExperiment),
            Route(
                .get, "experiments/get-by-name", "An experiment by name.", writes: false, [Parameter("experiment_name", .string, required: true)],
                experiment,
                getExperimentByName
            ),
            Route(.post, "experiments/search", "Search experiments.", writes: false, searchExperiments, experiments, self.searchExperiments),
            Route(.get, "experiments/search", "Search experiments.", writes: false, searchExperiments, experiments, self.searchExperiments),
            Route(
                .post, "experiments/update", "Rename an experiment.", writes: true, [experimentID, Parameter("new_name", .string)], empty,
                updateExperiment
            ),
            Route(.post, "experiments/delete", "Delete an experiment (soft).", writes: true, [experimentID], empty) {
                try await self.setExperimentLifecycle($0, .deleted)
            },
            Route(.post, "experiments/restore", "Restore a deleted experiment.", writes: true, [experimentID], empty) {
                try await self.setExperimentLifecycle($0, .active)
            },
            Route(
                .post, "experiments/set-experiment-tag", "Set an experiment tag.", writes: true,
                [experimentID, Parameter("key", .string, required: true), Parameter("value", .string)], empty, setExperimentTag
            ),
            Route(
                .post, "experiments/delete-experiment-tag", "Delete an experiment tag.", writes: true,
                [experimentID, Parameter("key", .string, required: true)], empty, deleteExperimentTag
            ),
            Route(
                .post, "runs/create", "Create a run (RUNNING).", writes: true,
                [
                    Parameter("experiment_id", .string), Parameter("user_id", .string), Parameter("run_name", .string),
                    Parameter("start_time", .int64),
                    Parameter("tags", keyValues),
                ],
                run, createRun
            ),
            Route(.get, "runs/get", "A run with its params, tags and latest metrics.", writes: false, runID, run, getRun),
            Route(
                .post, "runs/update", "Update a run's status, end time or name.", writes: true,
                runID + [
                    Parameter("status", .enumeration(RunStatus.allCases.map(\.rawValue))), Parameter("end_time", .int64),
                    Parameter("run_name", .string),
                ],
                .object([("run_info", .reference("RunInfo"))], required: ["run_info"]), updateRun
            ),
            Route(.post, "runs/delete", "Delete a run (soft).", writes: true, runID, empty) { try await self.setRunLifecycle($0, .deleted) },
            Route(.post, "runs/restore", "Restore a deleted run.", writes: true, runID, empty) { try await self.setRunLifecycle($0, .active) },
            Route(.post, "runs/search", "Search runs with the filter language.", writes: false, searchRuns, runs, self.searchRuns),
            Route(.get, "runs/search", "Search runs with the filter language.", writes: false, searchRuns, runs, self.searchRuns),
            Route(
                .post, "runs/log-metric", "Log one metric point.", writes: true,
                runID + [
                    Parameter("key", .string, required: true), Parameter("value", .metricValue, required: true),
                    Parameter("timestamp", .int64, required: true),
                    Parameter("step", .int64),
                ],
                empty, logMetric
            ),
            Route(
                .post, "runs/log-parameter", "Log one param.", writes: true,
                runID + [Parameter("key", .string, required: true), Parameter("value", .string, required: true)], empty, logParameter
            ),
            Route(
                .post, "runs/log-batch", "Log metrics, params and tags in one transaction.", writes: true,
                runID + [Parameter("metrics", .array(metric)), Parameter("params", keyValues), Parameter("tags", keyValues)], empty, logBatch
            ),
            Route(
                .post, "runs/set-tag", "Set a run tag.", writes: true,
                runID + [Parameter("key", .string, required: true), Parameter("value", .string, required: true)], empty, setTag
            ),
            Route(.post, "runs/delete-tag", "Delete a run tag.", writes: true, runID + [Parameter("key", .string, required: true)], empty, deleteTag),
            Route(
                .get, "metrics/get-history", "Every point of one metric of a run.", writes: false,
                runID + [Parameter("metric_key", .string, required: true), Parameter("max_results", .int64), Parameter("page_token", .string)],
                .object([("metrics", .array(.reference("Metric"))), ("next_page_token", .string)], required: ["metrics"]), getMetricHistory
            ),
        ] + modelRoutes + runLedgerRoutes
    }

    struct Route: Sendable {
        let method: HTTPRequest.Method
        /// The path below each of `prefixes`; `:name` components are path parameters.
        let path: String
        /// The names of the path's parameters, which reach the handler as fields.
        var pathParameters: [String] { path.split(separator: "/").filter { $0.hasPrefix(":") }.map { String($0.dropFirst()) } }
        let prefixes: [String]
        let summary: String
        let writes: Bool
        let request: [Parameter]
        let response: Schema
        /// The media types of a route that answers with a file rather than JSON; empty for JSON routes.
        let fileTypes: [String]
        let handler: @Sendable (RequestFields) async throws -> Reply

        init(
            _ method: HTTPRequest.Method, _ path: String, _ summary: String, writes: Bool, _ request: [Parameter], _ response: Schema,
            prefixes: [String] = MLflowRoutes.prefixes, _ handler: @escaping @Sendable (RequestFields) async throws -> JSONValue
        ) {
            self.method = method
            self.path = path
            self.prefixes = prefixes
            self.summary = summary
            self.writes = writes
            self.request = request
            self.response = response
            self.fileTypes = []
            self.handler = { .json(try await handler($0)) }
        }

        /// A read-only route that answers with a file of one of `fileTypes`.
        init(
            _ method: HTTPRequest.Method, _ path: String, _ summary: String, _ request: [Parameter], fileTypes: [String], prefixes: [String],
            _ handler: @escaping @Sendable (RequestFields) async throws -> File
        ) {
            self.method = method
            self.path = path
            self.prefixes = prefixes
            self.summary = summary
            self.writes = false
            self.request = request
            self.response = .string
            self.fileTypes = fileTypes
            self.handler = { .file(try await handler($0)) }
        }
    }

    /// What a route answers.
    enum Reply: Sendable {
        case json(JSONValue)
        case file(File)
    }

    /// A download: its bytes, media type and the name a browser saves it under.
    struct File: Sendable {
        let body: ResponseBody
        let contentType: String
        let filename: String
    }

    /// The prefixes MLflow serves its API under: the clients use the first, MLflow's own web UI the second.
    static let prefixes = ["/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"]

    /// Registers each route in the group of the scope it needs: `reading` or `writing`.
    func register<Context: RequestContext>(reading: RouterGroup<Context>, writing: RouterGroup<Context>) {
        for route in routes {
            for prefix in route.prefixes {
                let limits = bodyLimits
                (route.writes ? writing : reading).on(RouterPath(prefix + route.path), method: route.method) { request, context -> Response in
                    var fields = try await RequestFields.read(request, limits: limits)
                    for name in route.pathParameters {
                        guard let raw = context.parameters.get(name) else { continue }
                        fields = fields.setting(name, .string(raw.removingPercentEncoding ?? raw))
                    }
                    switch try await route.handler(fields) {
                    case .json(let value): return Response.json(value)
                    case .file(let file):
                        var headers = HTTPFields()
                        headers[.contentType] = file.contentType
                        headers[.contentDisposition] = "attachment; filename=\"\(file.filename)\""
                        return Response(status: .ok, headers: headers, body: file.body)
                    }
                }
            }
        }
    }

    // MARK: Experiments

    @Sendable func createExperiment(_ fields: RequestFields) async throws -> JSONValue {
        let name = try fields.requiredString("name")
        let location = try fields.string("artifact_location").flatMap { $0.isEmpty ? nil : $0 }
        let experiment = try await store.createExperiment(name: name, artifactLocation: location, tags: try fields.keyValues("tags"))
        return .object([("experiment_id", .string(experiment.id.description))])
    }

    @Sendable func getExperiment(_ fields: RequestFields) async throws -> JSONValue {
        let experiment = try await store.experiment(id: try fields.experimentID())
        return .object([("experiment", MLflowJSON.experiment(experiment))])
    }

    @Sendable func getExperimentByName(_ fields: RequestFields) async throws -> JSONValue {
        let name = try fields.requiredString("experiment_name")
        guard let experiment = try await store.experiment(named: name) else {
            throw APIError(.notFound, "RESOURCE_DOES_NOT_EXIST", "Could not find experiment with name '\(name)'")
        }
        return .object([("experiment", MLflowJSON.experiment(experiment))])
    }

    @Sendable func searchExperiments(_ fields: RequestFields) async throws -> JSONValue {
        let view = try viewType(fields, "view_type")
        let search = try ExperimentSearch(filter: try fields.string("filter"), orderBy: try fields.strings("order_by"))
        let all = try await store.experiments(view: view).map(\.experiment)
        let maxResults = try fields.int64("max_results") ?? 1000
        let page = try search.page(of: all, maxResults: Int(clamping: maxResults), pageToken: try fields.string("page_token"))
        var members: [(String, JSONValue)] = [("experiments", .array(page.experiments.map(MLflowJSON.experiment)))]
        if let token = page.nextPageToken { members.append(("next_page_token", .string(token))) }
        return .object(members)
    }

    @Sendable func updateExperiment(_ fields: RequestFields) async throws -> JSONValue {
        let id = try fields.experimentID()
        if let name = try fields.string("new_name") {
            try await store.updateExperiment(id: id, .rename(name))
        } else {
            _ = try await store.experiment(id: id)
        }
        return .object([])
    }

    func setExperimentLifecycle(_ fields: RequestFields, _ stage: LifecycleStage) async throws -> JSONValue {
        try await store.updateExperiment(id: try fields.experimentID(), .setLifecycle(stage))
        return .object([])
    }

    @Sendable func setExperimentTag(_ fields: RequestFields) async throws -> JSONValue {
        let id = try fields.experimentID()
        let tag = KeyValue(try fields.requiredString("key"), try fields.string("value") ?? "")
        try await store.updateExperiment(id: id, .setTag(tag))
        return .object([])
    }

    @Sendable func deleteExperimentTag(_ fields: RequestFields) async throws -> JSONValue {
        try await store.updateExperiment(id: try fields.experimentID(), .deleteTag(try fields.requiredString("key")))
        return .object([])
    }

    // MARK: Runs

    @Sendable func createRun(_ fields: RequestFields) async throws -> JSONValue {
        let experimentID = try fields.has("experiment_id") ? fields.experimentID() : .defaultExperiment
        var tags = try fields.keyValues("tags")
        var name = try fields.string("run_name") ?? ""
        // As MLflow: the name and the `mlflow.runName` tag mirror each other, and a run without either gets a name.
        if name.isEmpty, let tagged = tags.last(where: { $0.key == "mlflow.runName" }) { name = tagged.value }
        if name.isEmpty { name = RunNames.random() }
        if !tags.contains(where: { $0.key == "mlflow.runName" }) { tags.append(KeyValue("mlflow.runName", name)) }
        let run = NewRun(
            experimentID: experimentID, name: name, status: .running, startTime: try fields.int64("start_time") ?? clock(),
            userID: try fields.string("user_id") ?? ""
        )
        try await store.createRun(run, tags: tags)
        return .object([("run", MLflowJSON.run(try await store.run(run.runID)))])
    }

    @Sendable func getRun(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        let run = try await store.run(runID)
        return .object([("run", MLflowJSON.run(run, io: try await store.runIO(runID: runID)))])
    }

    @Sendable func updateRun(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        let update = RunUpdate(
            status: try fields.string("status").map { text throws(LedgerError) in try RunStatus.parse(text) },
            endTime: try fields.int64("end_time"), name: try fields.string("run_name").flatMap { $0.isEmpty ? nil : $0 }
        )
        let info = try await store.updateRun(runID, update)
        return .object([("run_info", MLflowJSON.runInfo(info))])
    }

    func setRunLifecycle(_ fields: RequestFields, _ stage: LifecycleStage) async throws -> JSONValue {
        try await store.setRunLifecycle(try fields.runID(), stage)
        return .object([])
    }

    /// The run query of a request: experiment_ids, filter, order_by, max_results, page_token, run_view_type.
    func runQuery(_ fields: RequestFields) throws -> RunQuery {
        RunQuery(
            experimentIDs: try fields.strings("experiment_ids").map { text in try RequestFields.experimentID(text) },
            filter: try Filter.parse(try fields.string("filter") ?? ""),
            orderBy: try fields.strings("order_by").map { text throws(LedgerError) in try OrderKey.parse(text) },
            maxResults: Int(clamping: try fields.int64("max_results") ?? 1000),
            pageToken: try fields.string("page_token").flatMap { $0.isEmpty ? nil : $0 },
            view: try viewType(fields, "run_view_type")
        )
    }

    @Sendable func searchRuns(_ fields: RequestFields) async throws -> JSONValue {
        let query = try runQuery(fields)
        // MLflow answers a search without experiments with an empty page rather than an error.
        if query.experimentIDs.isEmpty { return .object([("runs", .array([]))]) }
        let page = try await store.searchRuns(query)
        var members: [(String, JSONValue)] = [("runs", .array(page.runs.map(MLflowJSON.run)))]
        if let token = page.nextPageToken { members.append(("next_page_token", .string(token))) }
        return .object(members)
    }

    // MARK: Logging

    @Sendable func logMetric(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        let metric = Metric(
            key: try fields.requiredString("key"), value: Self.clamped(try fields.requiredDouble("value")),
            timestamp: try fields.requiredInt64("timestamp"), step: try fields.int64("step") ?? 0
        )
        try await store.logBatch(runID: runID, metrics: [metric])
        pointsIngested.increment()
        return .object([])
    }

    /// MLflow's server stores ±infinity as the largest finite doubles; its API here does the same, so that clients see
    /// one behaviour. The Swift SDK and the CLI keep infinities as they are.
    static func clamped(_ value: Double) -> Double {
        value.isInfinite ? (value > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude) : value
    }

    @Sendable func logParameter(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        let param = KeyValue(try fields.requiredString("key"), try fields.requiredString("value"))
        try await store.logBatch(runID: runID, params: [param])
        return .object([])
    }

    @Sendable func logBatch(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        let metrics = try fields.objects("metrics").map { item in
            Metric(
                key: try item.requiredString("key"), value: Self.clamped(try item.requiredDouble("value")),
                timestamp: try item.requiredInt64("timestamp"), step: try item.int64("step") ?? 0
            )
        }
        let params = try fields.keyValues("params")
        // MLflow refuses a batch that names a param twice, even with one value (the SDK's merged batches do not).
        var seen = Set<String>()
        let repeated = params.map(\.key).filter { !seen.insert($0).inserted }
        if !repeated.isEmpty {
            throw APIError(
                .badRequest, "INVALID_PARAMETER_VALUE",
                "Duplicate parameter keys have been submitted: \(repeated.map { "'\($0.prefix(250))'" }.joined(separator: ", ")). "
                    + "Please ensure the request contains only one param value per param key."
            )
        }
        try await store.logBatch(runID: runID, metrics: metrics, params: params, tags: try fields.keyValues("tags"))
        pointsIngested.increment(by: metrics.count)
        return .object([])
    }

    @Sendable func setTag(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        try await store.setTag(runID: runID, key: try fields.requiredString("key"), value: try fields.requiredString("value"))
        return .object([])
    }

    @Sendable func deleteTag(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        try await store.deleteTag(runID: runID, key: try fields.requiredString("key"))
        return .object([])
    }

    @Sendable func getMetricHistory(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        let key = try fields.requiredString("metric_key")
        // MLflow's order: timestamp, step, value (RunLedger's own routes keep the table's step order).
        guard let requested = try fields.int64("max_results") else {
            let history = try await store.metricHistory(runID: runID, key: key).sorted { MetricPoint.precedes($0, $1, in: .time) }
            return .object([("metrics", JSONValue.metricPoints(key: key, history[...]))])
        }
        guard requested >= 1 else {
            throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "Invalid value \(requested) for parameter 'max_results': it must be at least 1.")
        }
        // A page is read by its key, after the last point of the page before: a long history is never read whole
        // to answer one page of it.
        let limit = Int(min(requested, Int64(Limits.maxHistoryPage)))
        var after: MetricPoint?
        if let token = try fields.string("page_token"), !token.isEmpty {
            guard let point = Self.historyPosition(token) else {
                throw APIError(
                    .badRequest, "INVALID_PARAMETER_VALUE", "Invalid page token '\(token.prefix(100))': pass the next_page_token of a previous call.")
            }
            after = point
        }
        let page = try await store.metricHistory(runID: runID, key: key, after: after, limit: limit + 1, order: .time)
        var members: [(String, JSONValue)] = [("metrics", JSONValue.metricPoints(key: key, page.prefix(limit)))]
        if page.count > limit, let last = page.prefix(limit).last { members.append(("next_page_token", .string(Self.historyToken(last)))) }
        return .object(members)
    }

    /// A history page token: the last point's place in the history, `step:timestamp:valueBits:isNaN`.
    static func historyToken(_ point: MetricPoint) -> String {
        "\(point.step):\(point.timestamp):\(String(point.storedValue.bitPattern, radix: 16)):\(point.value.isNaN ? 1 : 0)"
    }

    static func historyPosition(_ token: String) -> MetricPoint? {
        let parts = token.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, let step = Int64(parts[0]), let timestamp = Int64(parts[1]), let bits = UInt64(parts[2], radix: 16),
            parts[3] == "0" || parts[3] == "1"
        else { return nil }
        return MetricPoint(value: parts[3] == "1" ? .nan : Double(bitPattern: bits), timestamp: timestamp, step: step)
    }

    private func viewType(_ fields: RequestFields, _ name: String) throws -> ViewType {
        guard let text = try fields.string(name) else { return .activeOnly }
        guard let view = ViewType(rawValue: text.uppercased()) else {
            throw APIError(
                .badRequest, "INVALID_PARAMETER_VALUE",
                "Invalid value '\(text.prefix(100))' for parameter '\(name)': valid values are ACTIVE_ONLY, DELETED_ONLY and ALL."
            )
        }
        return view
    }
}

/// Readable names for runs created without one, as MLflow gives them (`adjective-noun-number`).
enum RunNames {
    private static let adjectives = [
        "amber", "brisk", "calm", "daring", "eager", "fleet", "gentle", "hardy", "keen", "lucid", "mellow", "nimble", "placid", "quiet", "rapid",
        "steady", "tidy", "vivid", "wise", "zesty",
    ]
    private static let nouns = [
        "badger", "crane", "dolphin", "falcon", "gecko", "heron", "ibis", "jaguar", "koala", "lynx", "marten", "newt", "otter", "panda", "quail",
        "raven", "seal", "tern", "vole", "wren",
    ]

    static func random() -> String {
        "\(adjectives.randomElement()!)-\(nouns.randomElement()!)-\(Int.random(in: 1...999))"
    }
}
