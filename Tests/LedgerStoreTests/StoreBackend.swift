import Foundation
import Hummingbird
import LedgerConnect
import LedgerCore
import LedgerPostgres
import LedgerRemote
import LedgerSQLite
import LedgerServer
import Logging
import Prometheus
import TestSupport
import Testing

/// A backend the conformance suite runs against. Each call to `make` gives a fresh, empty store.
struct StoreBackend: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> any TrackingStore

    var testDescription: String { name }

    /// SQLite always; PostgreSQL whenever `RUNLEDGER_TEST_POSTGRES_URL` names a server (`scripts/test` always sets it);
    /// and a RunLedger server over SQLite, reached through `RemoteStore`, so that the HTTP path keeps every promise too.
    static let all: [StoreBackend] = [sqlite] + (TestPostgres.serverURL == nil ? [] : [postgres]) + [server]

    static let sqlite = StoreBackend(name: "SQLite") {
        try await SQLiteStore.open(path: temporaryPath("store.sqlite"))
    }

    static let postgres = StoreBackend(name: "PostgreSQL") {
        try await PostgresStore.opened(try PostgresLocation(url: try await TestPostgres.freshDatabase()))
    }
}

extension PostgresStore {
    /// A prepared store whose pool runs until ``close()``; tests hold stores across many calls, and a test's task
    /// outlives none of them.
    static func opened(_ location: PostgresLocation, options: PostgresOptions = PostgresOptions()) async throws -> PostgresStore {
        let store = try PostgresStore(location, options: options)
        Task { try await store.run() }
        do {
            try await store.prepare()
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }
}

extension StoreBackend {
    static let server = StoreBackend(name: "Server") {
        try await ServedStore.start(backing: try await SQLiteStore.open(path: temporaryPath("served.sqlite")))
    }
}

/// A `RemoteStore` talking to a live in-process RunLedger server (a real socket on 127.0.0.1) over `backing`.
/// Closing it stops the server and closes the backing store.
struct ServedStore: TrackingStore {
    let remote: RemoteStore
    let backing: any TrackingStore
    let server: Task<Void, any Error>
    var identity: String { remote.identity }

    static func start(backing: any TrackingStore) async throws -> ServedStore {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "runledger.test-server")
        logger.logLevel = .warning
        let app = LedgerServer.application(
            store: backing, configuration: ServerConfiguration(port: 0), registry: PrometheusCollectorRegistry(), logger: logger
        ) { port in continuation.yield(port) }
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw LedgerError(.internal, "the test server did not start") }
        return ServedStore(remote: try RemoteStore(url: "http://127.0.0.1:\(port)"), backing: backing, server: server)
    }

    func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> Experiment {
        try await remote.createExperiment(name: name, artifactLocation: artifactLocation, tags: tags)
    }
    func experiment(id: ExperimentID) async throws -> Experiment { try await remote.experiment(id: id) }
    func experiment(named name: String) async throws -> Experiment? { try await remote.experiment(named: name) }
    func experiments(view: ViewType) async throws -> [ExperimentSummary] { try await remote.experiments(view: view) }
    func updateExperiment(id: ExperimentID, _ change: ExperimentChange) async throws { try await remote.updateExperiment(id: id, change) }
    func write(_ batch: WriteBatch) async throws -> WriteOutcome { try await remote.write(batch) }
    func setRunLifecycle(_ runID: RunID, _ stage: LifecycleStage) async throws { try await remote.setRunLifecycle(runID, stage) }
    func deletedRuns(before cutoff: Int64) async throws -> [DeletedRun] { try await remote.deletedRuns(before: cutoff) }
    func run(_ runID: RunID) async throws -> Run { try await remote.run(runID) }
    func searchRuns(_ query: RunQuery) async throws -> RunPage { try await remote.searchRuns(query) }
    func metricHistory(runID: RunID, key: String) async throws -> [MetricPoint] { try await remote.metricHistory(runID: runID, key: key) }
    func reapRuns(heartbeatBefore: Int64, endTime: Int64) async throws -> [RunID] {
        try await remote.reapRuns(heartbeatBefore: heartbeatBefore, endTime: endTime)
    }
    func metricWindow(_ window: MetricWindow) async throws -> [MetricSample] { try await remote.metricWindow(window) }
    func runEvents(_ query: EventQuery) async throws -> [StoredEvent] { try await remote.runEvents(query) }
    func searchEvents(_ search: EventSearch) async throws -> [StoredEvent] { try await remote.searchEvents(search) }
    func eventSummary(_ search: EventSearch, width: Int64) async throws -> [EventCount] { try await remote.eventSummary(search, width: width) }
    func aggregate(_ aggregation: MetricAggregation) async throws -> [AggregateRow] { try await remote.aggregate(aggregation) }
    func statistics(_ query: RunQuery, metric: String, groupBy: GroupKey?) async throws -> [GroupSummary] {
        try await remote.statistics(query, metric: metric, groupBy: groupBy)
    }
    func trend(_ query: RunQuery, metric: String, goal: Goal, groupBy: GroupKey?) async throws -> [TrendPoint] {
        try await remote.trend(query, metric: metric, goal: goal, groupBy: groupBy)
    }
    func retentionPolicies() async throws -> [RetentionPolicy] { try await remote.retentionPolicies() }
    func addRetentionPolicy(_ policy: RetentionPolicy) async throws -> RetentionPolicy { try await remote.addRetentionPolicy(policy) }
    func removeRetentionPolicy(id: Int64) async throws { try await remote.removeRetentionPolicy(id: id) }
    func prune(_ policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, resume: String?) async throws -> PruneCount {
        try await remote.prune(policy, now: now, budget: budget, dryRun: dryRun, resume: resume)
    }
    func projects() async throws -> [Project] { try await remote.projects() }
    func changeProject(_ name: String, _ change: ProjectChange) async throws { try await remote.changeProject(name, change) }
    func stateDocuments(project: String) async throws -> [StateDocument] { try await remote.stateDocuments(project: project) }
    func stateDocument(project: String, namespace: String) async throws -> StateDocument? {
        try await remote.stateDocument(project: project, namespace: namespace)
    }
    func putStateDocument(project: String, namespace: String, document: String, expectedVersion: Int64?) async throws -> StateDocument {
        try await remote.putStateDocument(project: project, namespace: namespace, document: document, expectedVersion: expectedVersion)
    }
    func healthCheck() async -> LedgerError? { await remote.healthCheck() }
    func createLoggedModel(_ model: NewLoggedModel) async throws -> LoggedModel { try await remote.createLoggedModel(model) }
    func loggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel { try await remote.loggedModel(id: id, allowDeleted: allowDeleted) }
    func updateLoggedModel(id: String, _ change: LoggedModelChange) async throws -> LoggedModel { try await remote.updateLoggedModel(id: id, change) }
    func loggedModels(experimentIDs: [ExperimentID]) async throws -> [LoggedModel] { try await remote.loggedModels(experimentIDs: experimentIDs) }
    func logOutputs(runID: RunID, _ outputs: [RunModelOutput]) async throws { try await remote.logOutputs(runID: runID, outputs) }
    func logInputs(runID: RunID, datasets: [DatasetInput], models: [String]) async throws {
        try await remote.logInputs(runID: runID, datasets: datasets, models: models)
    }
    func runIO(runID: RunID) async throws -> RunIO { try await remote.runIO(runID: runID) }

    func close() async throws {
        try await remote.close()
        server.cancel()
        _ = await server.result
        try await backing.close()
    }
}

/// The test server named by `RUNLEDGER_TEST_POSTGRES_URL`, and fresh databases on it.
enum TestPostgres {
    static let serverURL: String? = ProcessInfo.processInfo.environment["RUNLEDGER_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// Creates an empty database on the test server and returns its URL.
    static func freshDatabase() async throws -> String {
        guard let serverURL else { throw LedgerError(.invalidState, "RUNLEDGER_TEST_POSTGRES_URL is not set") }
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await psql(serverURL, "CREATE DATABASE \(name)")
        var location = try PostgresLocation(url: serverURL)
        location.database = String(name)
        return "postgres://\(location.username)@\(location.host):\(location.port)/\(name)"
    }

    /// Runs one SQL command through `psql` and returns its unaligned output. It waits without blocking a thread: the
    /// tests run in parallel on a cooperative pool as wide as the machine's cores, and one blocked thread there stalls
    /// every store's connection pool.
    @discardableResult
    static func psql(_ url: String, _ sql: String) async throws -> String {
        let output = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        guard output.status == 0 else { throw LedgerError(.internal, "psql failed: \(output.stdout)\(output.stderr)") }
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A fresh path in a new temporary folder.
func temporaryPath(_ name: String) -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent(name).path
}

/// Throws unless `body` throws a ``LedgerError`` with `code` whose message contains `fragment`.
func expectLedgerError(
    _ code: LedgerError.Code, _ fragment: String = "", sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected \(code) error, got success", sourceLocation: sourceLocation)
    } catch let error as LedgerError {
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        #expect(fragment.isEmpty || error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected LedgerError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
