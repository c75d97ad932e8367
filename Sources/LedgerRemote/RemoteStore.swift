import AsyncHTTPClient
import Foundation
public import LedgerCore
public import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// A ``TrackingStore`` on a RunLedger server, over HTTP: MLflow's routes for reads and lifecycle changes, and
/// `POST /api/2.0/runledger/batches` for writes, so that a batch keeps its id and is applied at most once.
///
/// Every failure that is not the request's fault (no answer, a timeout, a 5xx, a refused token) is a
/// ``LedgerError/Code/storeUnavailable``, which the SDK answers by spooling and replaying later.
///
/// ```swift
/// let store = try RemoteStore(url: "http://127.0.0.1:5000", options: RemoteOptions(token: "…"))
/// ```
public struct RemoteStore: TrackingStore {
    private let base: String
    private let options: RemoteOptions
    private let closed = ClosedFlag()
    public var identity: String { base }
    private var client: HTTPClient { Self.client }

    /// One process-wide client, so every store shares a connection pool and a store that is never closed leaks
    /// nothing. Unlike `HTTPClient.shared` it does not retry a refused connection until the request's deadline:
    /// a server that is down must be reported at once, so that the SDK spools instead of waiting a minute.
    ///
    /// The connect timeout also bounds a request's wait for a pooled connection, so the pool is wide enough that a
    /// burst of concurrent writers (the SDK's workers, a study's threads) does not queue behind eight connections
    /// and time out on a busy machine.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: .singletonMultiThreadedEventLoopGroup, configuration: configuration)
    }()

    /// A store on the server at `url` (`http://HOST:PORT` or `https://…`, optionally with a path prefix).
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` for a URL that is not http(s)://HOST….
    public init(url: String, options: RemoteOptions = RemoteOptions()) throws(LedgerError) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https", parsed.host != nil
        else {
            throw LedgerError(.invalidParameterValue, "Invalid server URL '\(url)': expected http://HOST[:PORT] or https://HOST[:PORT].")
        }
        self.base = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.options = options
    }

    /// Whether `text` names a server rather than a database.
    public static func matches(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://")
    }

    public func close() async throws { closed.flag.store(true, ordering: .relaxed) }

    public func healthCheck() async -> LedgerError? {
        do {
            _ = try await call(.GET, "/ready", query: [])
            return nil
        } catch let error as LedgerError {
            return error
        } catch {
            return LedgerError(.storeUnavailable, "The RunLedger server at \(base) did not answer: \(error).")
        }
    }

    // MARK: Experiments

    public func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> Experiment {
        var body: [(String, JSONValue)] = [("name", .string(name)), ("tags", MLflowJSON.keyValues(tags))]
        if let artifactLocation { body.append(("artifact_location", .string(artifactLocation))) }
        let answer = try await mlflow(.POST, "experiments/create", body)
        guard let id = answer["experiment_id"]?.text.flatMap(ExperimentID.init) else { throw MLflowJSON.unexpected("experiments/create", answer) }
        return try await experiment(id: id)
    }

    public func experiment(id: ExperimentID) async throws -> Experiment {
        let answer = try await call(.GET, "/api/2.0/mlflow/experiments/get", query: [("experiment_id", id.description)])
        return try MLflowJSON.experiment(from: answer["experiment"])
    }

    public func experiment(named name: String) async throws -> Experiment? {
        do {
            let answer = try await call(.GET, "/api/2.0/mlflow/experiments/get-by-name", query: [("experiment_name", name)])
            return try MLflowJSON.experiment(from: answer["experiment"])
        } catch let error as LedgerError where error.code == .resourceDoesNotExist {
            return nil
        }
    }

    public func experiments(view: ViewType) async throws -> [ExperimentSummary] {
        let answer = try await call(.GET, "/api/2.0/runledger/experiments/list", query: [("view_type", view.rawValue)])
        guard case .array(let items)? = answer["experiments"] else { throw MLflowJSON.unexpected("experiments/list", answer) }
        return try items.map { item in
            ExperimentSummary(
                experiment: try MLflowJSON.experiment(from: item["experiment"]), runCount: Int(item["run_count"]?.int64 ?? 0),
                lastRunStartTime: item["last_run_start_time"]?.int64
            )
        }
    }

    public func updateExperiment(id: ExperimentID, _ change: ExperimentChange) async throws {
        let experimentID: (String, JSONValue) = ("experiment_id", .string(id.description))
        switch change {
        case .rename(let name): _ = try await mlflow(.POST, "experiments/update", [experimentID, ("new_name", .string(name))])
        case .setLifecycle(.deleted): _ = try await mlflow(.POST, "experiments/delete", [experimentID])
        case .setLifecycle(.active): _ = try await mlflow(.POST, "experiments/restore", [experimentID])
        case .setTag(let tag):
            _ = try await mlflow(.POST, "experiments/set-experiment-tag", [experimentID, ("key", .string(tag.key)), ("value", .string(tag.value))])
        case .deleteTag(let key):
            _ = try await mlflow(.POST, "experiments/delete-experiment-tag", [experimentID, ("key", .string(key))])
        }
    }

    // MARK: Runs

    public func write(_ batch: WriteBatch) async throws -> WriteOutcome {
        let encoded = Data(batch.encoded()).base64EncodedString()
        let answer = try await call(.POST, "/api/2.0/runledger/batches", body: .object([("batch", .string(encoded))]))
        return answer["outcome"]?.text == "already_applied" ? .alreadyApplied : .applied
    }

    public func setRunLifecycle(_ runID: RunID, _ stage: LifecycleStage) async throws {
        _ = try await mlflow(.POST, stage == .deleted ? "runs/delete" : "runs/restore", [("run_id", .string(runID.rawValue))])
    }

    public func run(_ runID: RunID) async throws -> Run {
        let answer = try await call(.GET, "/api/2.0/mlflow/runs/get", query: [("run_id", runID.rawValue)])
        return try MLflowJSON.run(from: answer["run"])
    }

    public func searchRuns(_ query: RunQuery) async throws -> RunPage {
        try query.validate()
        var body: [(String, JSONValue)] = [
            ("experiment_ids", .array(query.experimentIDs.map { .string($0.description) })),
            ("filter", .string(query.filter.description)),
            ("order_by", .array(query.orderBy.map { .string($0.description) })),
            ("max_results", .integer(Int64(query.maxResults))),
            ("run_view_type", .string(query.view.rawValue)),
        ]
        if let token = query.pageToken { body.append(("page_token", .string(token))) }
        let answer = try await mlflow(.POST, "runs/search", body)
        let runs: [Run]
        switch answer["runs"] {
        case .array(let items)?: runs = try items.map { try MLflowJSON.run(from: $0) }
        case nil: runs = []
        default: throw MLflowJSON.unexpected("runs/search", answer)
        }
        return RunPage(runs: runs, nextPageToken: answer["next_page_token"]?.text.flatMap { $0.isEmpty ? nil : $0 })
    }

    public func metricHistory(runID: RunID, key: String) async throws -> [MetricPoint] {
        let answer = try await call(.GET, "/api/2.0/mlflow/metrics/get-history", query: [("run_id", runID.rawValue), ("metric_key", key)])
        guard case .array(let items)? = answer["metrics"] ?? .array([]) else { throw MLflowJSON.unexpected("metrics/get-history", answer) }
        // The server answers in MLflow's order (by timestamp); this protocol's order is by step.
        return try items.map { try MLflowJSON.point(from: $0) }.sorted(by: MetricPoint.historyPrecedes)
    }

    public func reapRuns(heartbeatBefore: Int64, endTime: Int64) async throws -> [RunID] {
        let answer = try await call(
            .POST, "/api/2.0/runledger/runs/reap", body: .object([("heartbeat_before", .integer(heartbeatBefore)), ("end_time", .integer(endTime))]))
        guard case .array(let ids)? = answer["run_ids"] else { throw MLflowJSON.unexpected("runs/reap", answer) }
        return ids.compactMap { $0.text.flatMap(RunID.init) }
    }

    public func deletedRuns(before cutoff: Int64) async throws -> [DeletedRun] {
        let answer = try await call(.GET, "/api/2.0/runledger/runs/deleted", query: [("deleted_before", String(cutoff))])
        guard case .array(let runs)? = answer["runs"] else { throw MLflowJSON.unexpected("runs/deleted", answer) }
        return runs.compactMap { run in
            guard let id = run["run_id"]?.text.flatMap(RunID.init), let uri = run["artifact_uri"]?.text, let time = run["deleted_time"]?.int64 else {
                return nil
            }
            return DeletedRun(runID: id, artifactURI: uri, deletedTime: time)
        }
    }

    // MARK: HTTP

    func mlflow(_ method: HTTPMethod, _ route: String, _ body: [(String, JSONValue)]) async throws -> JSONValue {
        try await call(method, "/api/2.0/mlflow/" + route, body: .object(body))
    }

    func call(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil, headers: [(String, String)] = []
    ) async throws -> JSONValue {
        guard !closed.flag.load(ordering: .relaxed) else { throw LedgerError(.invalidState, "This store was closed; open a new one.") }
        var request = HTTPClientRequest(url: base + path + Self.queryText(query))
        request.method = method
        if let token = options.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.description))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(Int64(options.requestTimeout.components.seconds)))
            bytes = try await response.body.collect(upTo: 1 << 30)
        } catch {
            throw LedgerError(.storeUnavailable, "The RunLedger server at \(base) did not answer \(method) \(path): \(error).")
        }
        let json = (try? JSONValue(parsing: bytes.readableBytesView)) ?? .null
        guard response.status.code >= 300 else { return json }
        throw Self.error(status: response.status, json, path: path, base: base)
    }

    /// `?name=value&…` percent-encoded, or nothing for no items.
    static func queryText(_ items: [(String, String)]) -> String {
        var components = URLComponents()
        components.queryItems = items.isEmpty ? nil : items.map { URLQueryItem(name: $0.0, value: $0.1) }
        // `+` is a space in query strings; URLComponents leaves it alone.
        return components.percentEncodedQuery.map { "?" + $0.replacingOccurrences(of: "+", with: "%2B") } ?? ""
    }

    /// Rebuilds the ``LedgerError`` a server answered with; failures that are not the request's fault become
    /// ``LedgerError/Code/storeUnavailable`` so that the SDK spools instead of dropping the batch.
    static func error(status: HTTPResponseStatus, _ body: JSONValue, path: String, base: String) -> LedgerError {
        let message = body["message"]?.text ?? "HTTP \(status.code) from \(base)\(path)."
        let column = body["column"]?.int64.map { Int($0) }
        // Only an answer in RunLedger's (MLflow's) own error shape can blame the request's data. A proxy's page, an
        // unknown route (an older server, a wrong path prefix), a body over the server's limit, a timeout or an
        // authentication problem says nothing about the points: keep them (spool and retry) and say why.
        let errorCode = body["error_code"]?.text
        let notAboutTheData: Set<UInt> = [401, 403, 407, 408, 413, 415, 421, 429]
        if status.code >= 500 || notAboutTheData.contains(status.code) || errorCode == nil || errorCode == "ENDPOINT_NOT_FOUND" {
            return LedgerError(.storeUnavailable, "The RunLedger server at \(base) refused \(path) (HTTP \(status.code)): \(message)")
        }
        let name = body["runledger_code"]?.text ?? body["error_code"]?.text ?? ""
        let code = LedgerError.Code(name: name) ?? (status == .notFound ? .resourceDoesNotExist : .invalidParameterValue)
        return LedgerError(code, message, column: column)
    }
}

/// How a ``RemoteStore`` talks to its server.
public struct RemoteOptions: Sendable {
    /// A bearer token (`Authorization: Bearer …`) for servers started with `--auth-token-file`.
    public var token: String?
    /// How long one request may take, end to end, connecting included.
    public var requestTimeout: Duration
    public var logger: Logger

    /// Options with a 60 s request timeout.
    public init(token: String? = nil, requestTimeout: Duration = .seconds(60), logger: Logger = Logger(label: "runledger.remote")) {
        self.token = token
        self.requestTimeout = requestTimeout
        self.logger = logger
    }
}

private final class ClosedFlag: Sendable {
    let flag = Atomic<Bool>(false)
}
