public import Foundation
public import LedgerCore
import Logging
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The entry point of the SDK: records runs into a store without ever slowing down or breaking the simulation.
///
/// Log calls are synchronous, non-throwing and O(1): they append to an in-memory buffer and return. A background
/// writer drains the buffer in batches (by size or by time), writes each batch in one transaction, and when the store
/// is unavailable appends batches to a durable spool that it replays, exactly once, when the store is back.
///
/// ```swift
/// try await Ledger.withLedger(store: store) { ledger in
///     try await ledger.withRun(experiment: "design-study", name: "design-1", params: ["solver_type": "hybrid"]) { run in
///         for step in 0..<168 { run.log("soc", soc(step), step: Int64(step)) }
///         run.setKPIs(["total_cost": 812.5])
///     }
/// }
/// ```
public final class Ledger: Sendable {
    let store: any TrackingStore
    let configuration: LedgerConfiguration
    let shared = Mutex(SharedState())
    let doorbell = Doorbell()

    struct SharedState {
        var pending: [PendingItem] = []
        var pendingBytes = 0
        /// Sequence numbers: items accepted so far, and items known durable (in the store or the spool).
        var accepted = 0
        var durable = 0
        var signalled = false
        var closing = false
        var flushWaiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var openRuns: Set<RunID> = []
        var statistics = LedgerStatistics()
        var problems: [LedgerProblem] = []
    }

    /// Creates a ledger; nothing is written until ``run()`` is running. Most callers use ``withLedger(store:configuration:_:)``.
    public init(store: any TrackingStore, configuration: LedgerConfiguration = LedgerConfiguration()) {
        self.store = store
        self.configuration = configuration
    }

    /// Runs `body` with a ledger whose writer runs beside it; on return everything logged is flushed and the writer stops.
    public static func withLedger<T: Sendable>(
        store: any TrackingStore, configuration: LedgerConfiguration = LedgerConfiguration(), _ body: (Ledger) async throws -> T
    ) async throws -> T {
        let ledger = Ledger(store: store, configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await ledger.run() }
            do {
                let result = try await body(ledger)
                await ledger.close()
                try await group.waitForAll()
                return result
            } catch {
                await ledger.close()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// Runs the background writer until ``close()``: drains batches, spools and replays, sends heartbeats.
    /// Leftover spool folders of processes that died are replayed first.
    public func run() async throws {
        let loop = try WriterLoop(ledger: self)
        await loop.run()
    }

    // MARK: Runs

    /// Starts a run in the named experiment (created if missing) and returns its handle at once.
    ///
    /// The run's creation, params and tags travel through the same batches and spool as its metrics, so this works
    /// while the store is unreachable.
    public func startRun(experiment: String, name: String = "", params: [String: String] = [:], tags: [String: String] = [:]) -> RunHandle {
        let run = NewRun(experimentName: experiment, name: name, status: .running, startTime: Ledger.now())
        var items: [PendingItem] = [.create(run)]
        items += params.sorted { $0.key < $1.key }.map { .param(run.runID, $0.key, $0.value) }
        var allTags = tags
        if !name.isEmpty { allTags["mlflow.runName"] = name }
        items += allTags.sorted { $0.key < $1.key }.map { .tag(run.runID, $0.key, $0.value) }
        enqueue(items, opening: run.runID)
        return RunHandle(id: run.runID, ledger: self)
    }

    /// Runs `body` inside a run: RUNNING (durably, with its params) before `body` starts, FINISHED when it returns,
    /// FAILED with the error in the `runledger.error` tag when it throws (and the error is rethrown).
    public func withRun<T>(
        experiment: String, name: String = "", params: [String: String] = [:], tags: [String: String] = [:], _ body: (RunHandle) async throws -> T
    ) async throws -> T {
        let run = startRun(experiment: experiment, name: name, params: params, tags: tags)
        await flush()
        do {
            let result = try await body(run)
            run.end(status: .finished)
            return result
        } catch {
            run.setTag("runledger.error", String(describing: error))
            run.end(status: .failed)
            throw error
        }
    }

    // MARK: Flushing

    /// Returns once everything logged before the call is durable: in the store, or in the spool.
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { state -> Bool in
                if state.durable >= state.accepted { return true }
                state.flushWaiters.append((state.accepted, continuation))
                return false
            }
            if done { continuation.resume() } else { doorbell.ring() }
        }
    }

    /// Flushes, then stops the writer. Later log calls are counted as rejected.
    public func close() async {
        await flush()
        shared.withLock { $0.closing = true }
        doorbell.ring()
    }

    /// What the ledger has done so far.
    public var statistics: LedgerStatistics {
        shared.withLock { state in
            var statistics = state.statistics
            statistics.buffered = state.pending.count
            return statistics
        }
    }

    /// Problems that were reported instead of thrown (the latest 1000).
    public var problems: [LedgerProblem] { shared.withLock { $0.problems } }

    // MARK: Internals

    /// The hot path: one lock, one append, a doorbell ring only when a batch is full.
    func enqueue(_ item: PendingItem) {
        let ring = shared.withLock { state -> Bool in
            guard !state.closing else {
                state.statistics.rejected += 1
                return false
            }
            state.pending.append(item)
            state.pendingBytes += item.estimatedBytes
            state.accepted += 1
            state.statistics.logged += 1
            if state.pending.count >= configuration.batchSize && !state.signalled {
                state.signalled = true
                return true
            }
            return false
        }
        if ring { doorbell.ring() }
    }

    func enqueue(_ items: [PendingItem], opening: RunID? = nil, closing: RunID? = nil) {
        let ring = shared.withLock { state -> Bool in
            guard !state.closing else {
                state.statistics.rejected += items.count
                return false
            }
            if let opening { state.openRuns.insert(opening) }
            if let closing { state.openRuns.remove(closing) }
            state.pending += items
            state.pendingBytes += items.reduce(0) { $0 + $1.estimatedBytes }
            state.accepted += items.count
            state.statistics.logged += items.count
            return state.pending.count >= configuration.batchSize
        }
        if ring { doorbell.ring() }
    }

    func report(_ message: String) {
        configuration.logger.warning("\(message)")
        shared.withLock { state in
            state.problems.append(LedgerProblem(message: message))
            if state.problems.count > 1000 { state.problems.removeFirst(state.problems.count - 1000) }
        }
    }

    /// Milliseconds since the epoch from the system's real-time clock (no allocation, no Foundation).
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// One thing logged, waiting in the buffer.
enum PendingItem: Sendable {
    case create(NewRun)
    case metric(RunID, String, Double, Int64, Int64)
    case param(RunID, String, String)
    case tag(RunID, String, String)
    case update(RunID, RunUpdate)

    /// A rough size in memory, for the buffer bound.
    var estimatedBytes: Int {
        switch self {
        case .metric(_, let key, _, _, _): 64 + (key.utf8.count > 15 ? key.utf8.count : 0)
        case .param(_, let key, let value), .tag(_, let key, let value): 64 + key.utf8.count + value.utf8.count
        case .create, .update: 256
        }
    }
}

/// A run being recorded. Every method is synchronous, non-throwing and does no I/O: bad input is reported through
/// ``Ledger/problems`` and the ledger's logger, never thrown into the simulation.
public struct RunHandle: Sendable, Hashable {
    /// The run's id, chosen by the client.
    public let id: RunID
    let ledger: Ledger

    public static func == (lhs: RunHandle, rhs: RunHandle) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// Logs one metric point. `timestamp` defaults to now (milliseconds since the epoch).
    public func log(_ key: String, _ value: Double, step: Int64 = 0, timestamp: Int64? = nil) {
        ledger.enqueue(.metric(id, key, value, timestamp ?? Ledger.now(), step))
    }

    /// Logs several metrics at one step.
    public func log(_ metrics: [String: Double], step: Int64 = 0, timestamp: Int64? = nil) {
        let time = timestamp ?? Ledger.now()
        ledger.enqueue(metrics.map { .metric(id, $0.key, $0.value, time, step) })
    }

    /// Logs the run's final KPIs (metrics at step 0).
    public func setKPIs(_ kpis: [String: Double]) { log(kpis, step: 0) }

    /// Logs a param. Params are immutable: another value for the same key is rejected (see ``Ledger/problems``).
    public func setParam(_ key: String, _ value: String) { ledger.enqueue(.param(id, key, value)) }

    /// Sets a tag.
    public func setTag(_ key: String, _ value: String) { ledger.enqueue(.tag(id, key, value)) }

    /// Ends the run with a terminal status (FINISHED by default) and stops its heartbeat.
    public func end(status: RunStatus = .finished) {
        ledger.enqueue([.update(id, RunUpdate(status: status, endTime: Ledger.now()))], closing: id)
    }
}

/// Wakes the writer: `ring()` never blocks; `wait(timeout:)` returns on a ring or after the timeout.
final class Doorbell: Sendable {
    private let state = Mutex<(rung: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.rung = true
            return nil
        }
        waiter?.resume()
    }

    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    self.ring()
                } catch {}
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
            group.cancelAll()
        }
    }
}
