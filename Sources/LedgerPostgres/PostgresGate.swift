import Foundation
import LedgerCore
import Logging
import Metrics
import PostgresNIO
import Synchronization

/// Figures of the connection pool, for `/ready`, `/metrics` and the CLI.
public struct PostgresPoolStatistics: Sendable, Equatable {
    /// Connections this process holds open to the server (counted by the server, by application name).
    public var open: Int
    /// Connections lent to an operation right now.
    public var inUse: Int
    /// Open connections not lent out.
    public var idle: Int
    /// Operations waiting for a connection.
    public var waiting: Int
    /// The pool's upper bound.
    public var maximum: Int
}

/// Everything between the store and PostgresNIO's pooled client: the wait for a connection is bounded, transient
/// failures are retried with backoff and jitter, errors become ``LedgerError``s, and the pool's figures are counted.
///
/// The client's own work (connections, keep-alive) runs in ``run()``, which the store's owner runs in a structured
/// scope (``PostgresStore/run()``); operations wait until it does.
final class PostgresGate: Sendable {
    let client: PostgresClient
    let options: PostgresOptions
    let applicationName: String
    /// `postgres://HOST:PORT/DATABASE`: which database, without credentials.
    let identity: String
    let logger: Logger
    private let counters = Mutex<(inUse: Int, waiting: Int, retries: Int)>((0, 0, 0))
    /// Runs this process created: in all, and when it last refreshed the planner's statistics.
    private let created = Mutex<(total: Int, atLastAnalyze: Int)>((0, 0))
    private let gauges: (inUse: Gauge, waiting: Gauge, open: Gauge, idle: Gauge)
    private let retries: Counter
    /// Timer tasks of operations still running; each finished operation stops its own.
    let liveTimers = Atomic<Int>(0)
    /// Calls of ``run()``: the client may run only once.
    private let runs = Atomic<Int>(0)
    /// Opened by ``close()``: the pool's run ends.
    private let closing = Latch()
    /// Opened when ``run()`` starts the client: operations wait for it (a lease before then would wait too, with a
    /// warning from the driver).
    private let started = Latch()

    init(client: PostgresClient, options: PostgresOptions, applicationName: String, identity: String) {
        self.client = client
        self.identity = identity
        self.options = options
        self.applicationName = applicationName
        self.logger = options.logger
        gauges = (
            Gauge(label: "runledger_postgres_connections", dimensions: [("state", "in_use")]),
            Gauge(label: "runledger_postgres_connections", dimensions: [("state", "waiting")]),
            Gauge(label: "runledger_postgres_connections", dimensions: [("state", "open")]),
            Gauge(label: "runledger_postgres_connections", dimensions: [("state", "idle")])
        )
        retries = Counter(label: "runledger_postgres_retries_total")
    }

    /// Runs the client's pool until ``close()`` or until the calling task is cancelled. A second call only waits.
    func run() async {
        let first = runs.add(1, ordering: .relaxed).newValue == 1
        await withTaskGroup(of: Void.self) { group in
            if first {
                group.addTask {
                    self.started.open()
                    await self.client.run()
                }
            }
            group.addTask { await self.closing.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Ends ``run()``: the pool closes its connections, and later operations fail.
    func close() { closing.open() }

    /// Runs `body` on a pooled connection, retrying transient failures.
    ///
    /// `idempotent` says whether a retry after a failure *during COMMIT* is safe (the transaction may have committed);
    /// failures before COMMIT rolled back and are always safe to retry.
    func run<T: Sendable>(idempotent: Bool = true, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await withConnection(body)
            } catch {
                let failure = PostgresFailure(error)
                attempt += 1
                let retryable = failure.isTransient && (idempotent || !failure.duringCommit)
                guard retryable, attempt < options.retryAttempts, !Task.isCancelled else {
                    throw failure.ledgerError(attempts: attempt, logger: logger)
                }
                retries.increment()
                counters.withLock { $0.retries += 1 }
                // Exponential backoff with full jitter, so that many clients do not retry in step.
                let base = options.retryBaseDelay.components
                let ceiling = (base.seconds * 1_000_000_000 + base.attoseconds / 1_000_000_000) << min(attempt - 1, 10)
                let delay = Duration.nanoseconds(Int64.random(in: 0...max(1, ceiling)))
                logger.debug("Retrying a transient PostgreSQL failure", metadata: ["attempt": "\(attempt)", "error": "\(failure.summary)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Runs `body` inside BEGIN … COMMIT on one connection; a thrown error rolls back.
    func transaction<T: Sendable>(idempotent: Bool = true, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await run(idempotent: idempotent) { connection in
            try await connection.query("BEGIN", logger: self.logger)
            let value: T
            do {
                value = try await body(connection)
            } catch {
                // A failed ROLLBACK means the connection is gone; the pool discards it.
                _ = try? await connection.query("ROLLBACK", logger: self.logger)
                throw error
            }
            do {
                try await connection.query("COMMIT", logger: self.logger)
            } catch {
                throw CommitFailure(underlying: error)
            }
            return value
        }
    }

    /// Runs `body` on one connection for as long as it takes (a snapshot read page by page): no operation deadline,
    /// each statement is still bounded by the server's statement timeout. Not retried.
    func session<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        await started.wait()
        do {
            return try await client.withConnection { connection in
                self.adjust(inUse: 1)
                defer { self.adjust(inUse: -1) }
                return try await body(connection)
            }
        } catch {
            throw PostgresFailure(error).ledgerError(attempts: 1, logger: logger)
        }
    }

    /// Leases a connection, waiting at most the acquire timeout for one, and bounds the whole operation.
    ///
    /// Two deadlines release the caller whatever the driver does: the acquire timeout, and the statement timeout plus a
    /// grace period once a connection is held. Past the second, the connection is closed, which fails whatever still
    /// waits on it and returns its slot to the pool.
    ///
    /// The lease runs in its own task, not in a task group racing a sleep, because a group cannot return before all its
    /// children have: with PostgreSQL stopped (`-m immediate`) mid-ingest, a 20,000-point `INSERT … unnest` in flight
    /// has been seen never to return, even after its connection was closed, and postgres-nio's `leaseConnection`
    /// drops a cancellation that arrives before its request is queued. A group hung the outage test each time it was
    /// tried.
    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let held = Held()
        adjust(waiting: 1)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let outcome = Outcome(continuation)
            let timer = TimerHandle()
            let lease = Task {
                // The timer is stopped as soon as the operation ends: left sleeping, timers of finished operations
                // (one per statement, alive for the whole statement timeout) held hundreds of MB under load.
                defer { timer.cancel() }
                do {
                    // Only once the pool runs: a lease made before is not served (and the driver warns).
                    await self.started.wait()
                    let value = try await self.client.withConnection { connection in
                        held.set(connection)
                        self.adjust(inUse: 1, waiting: -1)
                        defer { self.adjust(inUse: -1) }
                        return try await body(connection)
                    }
                    outcome.resume(with: .success(value))
                } catch {
                    if held.connection == nil { self.adjust(waiting: -1) }
                    outcome.resume(with: .failure(error))
                }
            }
            timer.start {
                self.liveTimers.add(1, ordering: .relaxed)
                defer { self.liveTimers.subtract(1, ordering: .relaxed) }
                try? await Task.sleep(for: self.options.acquireTimeout)
                guard !Task.isCancelled, !outcome.isDone else { return }
                guard let connection = held.connection else {
                    outcome.resume(with: .failure(AcquireTimeout(timeout: self.options.acquireTimeout, maximum: self.options.maximumConnections)))
                    lease.cancel()
                    return
                }
                try? await Task.sleep(for: self.options.statementTimeout + .seconds(2))
                guard !Task.isCancelled, !outcome.isDone else { return }
                self.logger.debug("A PostgreSQL operation outlived the statement timeout; closing its connection")
                outcome.resume(with: .failure(OperationTimeout()))
                lease.cancel()
                try? await connection.close()
            }
        }
    }

    private func adjust(inUse: Int = 0, waiting: Int = 0) {
        let now = counters.withLock { counters in
            counters.inUse += inUse
            counters.waiting += waiting
            return counters
        }
        gauges.inUse.record(now.inUse)
        gauges.waiting.record(now.waiting)
    }

    /// Connections lent out and operations waiting, counted here without touching the server.
    var usage: (inUse: Int, waiting: Int) { counters.withLock { ($0.inUse, $0.waiting) } }

    /// Counts runs this process created and, each time their number has doubled (from 500 on), refreshes the planner's
    /// statistics of the tables searches read. Autovacuum does it too, but only after its next nap: a study that loads
    /// thousands of runs into a fresh database and searches at once would otherwise get plans made for empty tables.
    func recordCreatedRuns(_ count: Int) async {
        guard count > 0 else { return }
        let due = created.withLock { state -> Bool in
            state.total += count
            guard state.total - state.atLastAnalyze >= max(500, state.atLastAnalyze) else { return false }
            state.atLastAnalyze = state.total
            return true
        }
        guard due else { return }
        do {
            _ = try await run { connection in try await connection.query("ANALYZE runs, params, tags, latest_metrics", logger: self.logger) }
        } catch {
            logger.debug("ANALYZE after a bulk load failed; autovacuum will do it", metadata: ["error": "\(error)"])
        }
    }

    /// Retries of transient failures so far.
    var retryCount: Int { counters.withLock { $0.retries } }

    /// The pool's figures; `open` asks the server, so this needs a connection itself.
    func statistics() async throws -> PostgresPoolStatistics {
        let open = try await run { connection in
            let rows = try await connection.query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = \(self.applicationName)", logger: self.logger
            ).collect()
            return Int(try rows.first?.decode(Int64.self) ?? 0)
        }
        let (inUse, waiting) = counters.withLock { ($0.inUse, $0.waiting) }
        gauges.open.record(open)
        gauges.idle.record(max(0, open - inUse))
        return PostgresPoolStatistics(open: open, inUse: inUse, idle: max(0, open - inUse), waiting: waiting, maximum: options.maximumConnections)
    }
}

/// The leased connection, shared between the lease and its timer.
private final class Held: Sendable {
    private let state = Mutex<PostgresConnection?>(nil)
    func set(_ connection: PostgresConnection) { state.withLock { $0 = connection } }
    var connection: PostgresConnection? { state.withLock { $0 } }
}

/// The timer task of one operation; cancelling before it starts means it never runs.
private final class TimerHandle: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))
    func start(_ body: @escaping @Sendable () async -> Void) {
        let task = Task(operation: body)
        let cancelled = state.withLock { state in
            state.task = task
            return state.cancelled
        }
        if cancelled { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { state in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }
}

/// Resumes a continuation once, whichever of the lease and its timer comes first.
private final class Outcome<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>
    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }
    var isDone: Bool { continuation.withLock { $0 == nil } }

    func resume(with result: Result<T, any Error>) {
        let pending = continuation.withLock { value in
            defer { value = nil }
            return value
        }
        pending?.resume(with: result)
    }
}

/// No pooled connection became free within the acquire timeout.
struct AcquireTimeout: Error {
    var timeout: Duration
    var maximum: Int
}

/// A held connection did not finish its operation within the statement timeout and a grace period.
struct OperationTimeout: Error {}

/// COMMIT itself failed: the transaction may or may not have been applied.
struct CommitFailure: Error {
    var underlying: any Error
}

/// A failure sorted into what the caller can do about it.
struct PostgresFailure {
    let error: any Error
    let duringCommit: Bool

    init(_ error: any Error) {
        if let commit = error as? CommitFailure {
            self.error = commit.underlying
            self.duringCommit = true
        } else if error is OperationTimeout {
            // The operation may have committed before the connection went silent.
            self.error = error
            self.duringCommit = true
        } else {
            self.error = error
            self.duringCommit = false
        }
    }

    /// SQLSTATEs worth retrying: serialization failure, deadlock, admin shutdown, crash shutdown, starting up,
    /// too many connections, and the connection-exception class.
    static let transientStates: Set<String> = ["40001", "40P01", "57P01", "57P02", "57P03", "53300"]

    var sqlState: String? { (error as? PSQLError)?.serverInfo?[.sqlState] }

    var isTransient: Bool {
        if error is OperationTimeout { return true }
        if error is LedgerError || error is AcquireTimeout || error is CancellationError { return false }
        if let state = sqlState { return Self.transientStates.contains(state) || state.hasPrefix("08") }
        if let error = error as? PSQLError {
            return [.connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection].contains(error.code)
        }
        return false
    }

    /// What the driver said, without SQL text or bound values.
    var summary: String {
        if let error = error as? PSQLError {
            if let state = sqlState { return "SQLSTATE \(state): \(error.serverInfo?[.message] ?? "")" }
            return "\(error.code)"
        }
        return String(describing: type(of: error))
    }

    func ledgerError(attempts: Int, logger: Logger) -> any Error {
        if let error = error as? LedgerError { return error }
        if error is CancellationError { return error }
        if let timeout = error as? AcquireTimeout {
            return LedgerError(
                .storeUnavailable,
                "No PostgreSQL connection became free within \(timeout.timeout) (all \(timeout.maximum) pooled connections busy, "
                    + "or the server unreachable). Retry later, or raise the pool size."
            )
        }
        logger.debug("PostgreSQL error", metadata: ["error": "\(String(reflecting: error))"])
        if error is OperationTimeout && !duringCommit {
            return LedgerError(.storeUnavailable, "PostgreSQL stopped answering in the middle of an operation. Retry later.")
        }
        if duringCommit && isTransient {
            return LedgerError(
                .storeUnavailable, "The connection to PostgreSQL failed during COMMIT (\(summary)); the write may or may not have been applied.")
        }
        if isTransient {
            return LedgerError(.storeUnavailable, "PostgreSQL is unavailable (\(summary)) after \(attempts) attempt(s). Retry later.")
        }
        switch sqlState {
        case "57014":
            return LedgerError(.storeUnavailable, "A PostgreSQL statement ran past the statement timeout and was cancelled. Retry later.")
        case "28P01", "28000":
            return LedgerError(.storeUnavailable, "PostgreSQL refused the credentials (\(summary)). Check the user and password in the URL.")
        case "3D000":
            return LedgerError(.storeUnavailable, "\(summary). Create the database first (createdb) or fix the URL.")
        case "25006":
            return LedgerError(.invalidState, "The store was opened read-only; this command cannot write.")
        default:
            return LedgerError(.internal, "The PostgreSQL store failed (\(summary)).")
        }
    }
}
