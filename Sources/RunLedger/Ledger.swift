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
    /// Moves artifact files to ``LedgerConfiguration/artifacts``; nil without one.
    let shipper: ArtifactShipper?

    struct SharedState {
        mutating func slot(forKey key: String) -> Int32 { keyTable.slot(for: key) }
        var keys: [String] { keyTable.keys }

        /// The chunk callers append to; when it holds `batchSize` items it moves to `full`, in O(1).
        var buffer = PendingBuffer()
        /// Chunks waiting for the writer, oldest first. The writer takes one at a time, so memory holds the backlog
        /// and one chunk in work, never two copies of the backlog.
        var full: [PendingBuffer] = []
        /// Empty chunks with reserved capacity, made by the writer so that callers do not allocate.
        var spares: [PendingBuffer] = []

        var backlogCount: Int { buffer.count + full.reduce(0) { $0 + $1.count } }
        var backlogBytes: Int { buffer.bytes + full.reduce(0) { $0 + $1.bytes } }

        /// Moves the current chunk to `full` when it is full; true when the writer should be woken.
        /// This is also where the bound is checked (once per chunk, not per point), so memory can pass it by one chunk.
        mutating func rotateIfFull(batchSize: Int, bound: Int) -> Bool {
            guard buffer.count >= batchSize else { return false }
            buffer.endSequence = accepted
            full.append(buffer)
            // Without a spare (the writer is behind) the caller allocates, once per chunk and at full size: growing
            // by doubling would copy and leave up to 60 % of every chunk unused.
            buffer = spares.popLast() ?? PendingBuffer(reserving: batchSize)
            atBound = backlogBytes >= bound
            return true
        }
        /// The backlog reached the buffer bound: the writer cannot even spill as fast as callers log. New points are
        /// dropped and counted (the writer reports them) until the writer takes a chunk; the caller is never blocked.
        var atBound = false
        /// Interned run ids and metric keys: points refer to them by slot (kept for the ledger's lifetime).
        var runs: [RunID] = []
        var keyTable = KeyTable()
        /// Sequence numbers: items accepted so far, and items known durable (in the store or the spool).
        var accepted = 0
        var durable = 0
        var closing = false
        /// The writer could not start: nothing will become durable, so flushes must not wait.
        var writerFailed = false
        var flushWaiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var openRuns: Set<RunID> = []
        var statistics = LedgerStatistics()
        var problems: [LedgerProblem] = []
    }

    /// Creates a ledger; nothing is written until ``run()`` is running. Most callers use ``withLedger(store:configuration:_:)``.
    public init(store: any TrackingStore, configuration: LedgerConfiguration = LedgerConfiguration()) {
        self.store = store
        self.configuration = configuration
        self.shipper = configuration.artifacts.map { ArtifactShipper(artifacts: $0, store: store, configuration: configuration) }
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
        let loop: WriterLoop
        do {
            loop = try WriterLoop(ledger: self)
        } catch {
            // Without a writer nothing becomes durable: refuse further items and release every flush, so that no
            // caller waits forever; the error reaches whoever runs the writer (withLedger rethrows it).
            let waiters = shared.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.closing = true
                state.writerFailed = true
                defer { state.flushWaiters = [] }
                return state.flushWaiters.map(\.continuation)
            }
            for waiter in waiters { waiter.resume() }
            shipper?.abandon()
            report("The writer could not start, so nothing logged to this ledger is recorded: \(error)")
            throw error
        }
        guard let shipper else {
            await loop.run()
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await shipper.run() }
            await loop.run()
        }
    }

    // MARK: Runs

    /// Starts a run in the named experiment (created if missing) and returns its handle at once.
    ///
    /// The run's creation, params and tags travel through the same batches and spool as its metrics, so this works
    /// while the store is unreachable.
    public func startRun(experiment: String, name: String = "", params: [String: String] = [:], tags: [String: String] = [:]) -> RunHandle {
        let run = NewRun(experimentName: experiment, name: name, status: .running, startTime: Ledger.now())
        let slot = shared.withLock { state -> Int32 in
            state.runs.append(run.runID)
            return Int32(state.runs.count - 1)
        }
        var items: [PendingItem] = [.create(run)]
        items += params.sorted { $0.key < $1.key }.map { .param($0.key, $0.value) }
        var allTags = tags
        if !name.isEmpty { allTags["mlflow.runName"] = name }
        items += allTags.sorted { $0.key < $1.key }.map { .tag($0.key, $0.value) }
        enqueue(items, slot: slot, opening: run.runID)
        return RunHandle(id: run.runID, slot: slot, ledger: self)
    }

    /// Resumes an existing run (after a crash, or from a checkpoint): it goes back to RUNNING, as MLflow's
    /// `start_run(run_id=…)` does, keeps its params, metrics and history, and beats again until ``RunHandle/end(status:)``.
    ///
    /// Like ``startRun(experiment:name:params:tags:)`` it returns at once and travels through the batches and spool;
    /// a run that does not exist is reported by the writer and its writes are dropped.
    public func resumeRun(_ id: RunID) -> RunHandle {
        let slot = shared.withLock { state -> Int32 in
            state.runs.append(id)
            return Int32(state.runs.count - 1)
        }
        enqueue([.update(RunUpdate(status: .running))], slot: slot, opening: id)
        return RunHandle(id: id, slot: slot, ledger: self)
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

    /// Returns once everything logged before the call is durable: in the store, or in the spool (artifacts: uploaded,
    /// or copied to the spool root's staging folder).
    public func flush() async {
        await shipper?.flush()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { state -> Bool in
                if state.durable >= state.accepted || state.writerFailed { return true }
                state.flushWaiters.append((state.accepted, continuation))
                return false
            }
            if done { continuation.resume() } else { doorbell.ring() }
        }
    }

    /// Flushes, then stops the writer. Later log calls are counted as rejected.
    public func close() async {
        await flush()
        shipper?.close()
        shared.withLock { $0.closing = true }
        doorbell.ring()
    }

    /// What the ledger has done so far.
    public var statistics: LedgerStatistics {
        var statistics = shared.withLock { state in
            var statistics = state.statistics
            statistics.buffered = state.backlogCount
            return statistics
        }
        if let shipper {
            (statistics.artifactsLogged, statistics.artifactsUploaded, statistics.artifactsPending) = shipper.state.withLock {
                ($0.accepted, $0.uploaded, $0.pendingAtClose)
            }
        }
        return statistics
    }

    /// Problems that were reported instead of thrown (the latest 1000, then the artifact uploader's).
    public var problems: [LedgerProblem] { shared.withLock { $0.problems } + (shipper?.state.withLock { $0.problems } ?? []) }

    // MARK: Internals

    /// A metric key looked up once, for the hottest loops: logging with it skips hashing the key on every call.
    ///
    /// ```swift
    /// let soc = ledger.metricKey("soc")
    /// for step in 0..<steps { run.log(soc, model.soc(step), step: Int64(step)) }
    /// ```
    public func metricKey(_ name: String) -> MetricKey {
        MetricKey(name: name, slot: shared.withLock { $0.slot(forKey: name) })
    }

    /// The hot path: one lock, one 32-byte append; a doorbell ring only when a batch is full.
    func enqueuePoint(run: Int32, key: String, value: Double, timestamp: Int64, step: Int64) {
        enqueuePoint(run: run, keySlot: nil, key: key, value: value, timestamp: timestamp, step: step)
    }

    func enqueuePoint(run: Int32, keySlot known: Int32?, key: String, value: Double, timestamp: Int64, step: Int64) {
        let ring = shared.withLock { state -> Bool in
            guard !state.closing else {
                state.statistics.rejected += 1
                return false
            }
            guard !state.atBound else {
                state.statistics.dropped += 1
                return false
            }
            let keySlot = known ?? state.slot(forKey: key)
            state.buffer.points.append(PendingPoint(run: run, key: keySlot, value: value, timestamp: timestamp, step: step))
            state.accepted += 1
            state.statistics.logged += 1
            return state.rotateIfFull(batchSize: configuration.batchSize, bound: configuration.bufferLimit)
        }
        if ring { doorbell.ring() }
    }

    /// Several points at one step under one lock: a loop logging 8 metrics per step takes the lock once, not 8 times.
    /// `point(state, index)` gives the key slot and value of point `index`.
    func enqueuePoints(run: Int32, count: Int, timestamp: Int64, step: Int64, _ point: (inout SharedState, Int) -> (key: Int32, value: Double)) {
        let ring = shared.withLock { state -> Bool in
            guard !state.closing else {
                state.statistics.rejected += count
                return false
            }
            guard !state.atBound else {
                state.statistics.dropped += count
                return false
            }
            for index in 0..<count {
                let (key, value) = point(&state, index)
                state.buffer.points.append(PendingPoint(run: run, key: key, value: value, timestamp: timestamp, step: step))
            }
            state.accepted += count
            state.statistics.logged += count
            return state.rotateIfFull(batchSize: configuration.batchSize, bound: configuration.bufferLimit)
        }
        if ring { doorbell.ring() }
    }

    func enqueue(_ items: [PendingItem], slot: Int32, opening: RunID? = nil, closing: RunID? = nil) {
        let ring = shared.withLock { state -> Bool in
            guard !state.closing else {
                state.statistics.rejected += items.count
                return false
            }
            if let opening { state.openRuns.insert(opening) }
            if let closing { state.openRuns.remove(closing) }
            let position = state.buffer.points.count
            for item in items {
                state.buffer.events.append((position, slot, item))
                state.buffer.eventBytes += item.estimatedBytes
            }
            state.accepted += items.count
            state.statistics.logged += items.count
            return state.rotateIfFull(batchSize: configuration.batchSize, bound: configuration.bufferLimit)
        }
        if ring { doorbell.ring() }
    }

    func logArtifact(runID: RunID, folder: String, name: String, content: ArtifactShipper.Content) {
        guard let shipper else {
            report("Artifact '\(name)' of run \(runID) is not kept: no artifact store is configured (LedgerConfiguration.artifacts).")
            return
        }
        do {
            let path = try ArtifactPath(validating: folder).appending(try ArtifactPath(validating: name))
            guard !path.isRoot else { throw LedgerError(.invalidParameterValue, "An artifact needs a file name.") }
            shipper.enqueue(ArtifactShipper.Request(runID: runID, path: path, content: content))
        } catch {
            report("Artifact '\(name)' of run \(runID) is not kept: \(error)")
        }
    }

    func report(_ message: String) {
        configuration.logger.warning("\(message)")
        shared.withLock { state in
            state.problems.append(LedgerProblem(message: message))
            if state.problems.count > 1000 { state.problems.removeFirst(state.problems.count - 1000) }
        }
    }

    /// The timestamp log calls use by default: milliseconds since the epoch. A loop that logs several metrics per
    /// step can read it once per step and pass it as `timestamp:`.
    public static func timestamp() -> Int64 { now() }

    /// Milliseconds since the epoch from the system's real-time clock (no allocation, no Foundation).
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// A metric key interned by a ledger (``Ledger/metricKey(_:)``); valid with that ledger's runs only.
public struct MetricKey: Sendable, Hashable {
    public let name: String
    let slot: Int32
}

/// A metric point waiting in the buffer: 32 bytes, no references, so appending never touches a reference count.
struct PendingPoint: Sendable {
    var run: Int32
    var key: Int32
    var value: Double
    var timestamp: Int64
    var step: Int64
}

/// Anything else logged (rarer than points): kept in order relative to the points by its position.
enum PendingItem: Sendable {
    case create(NewRun)
    case param(String, String)
    case tag(String, String)
    case update(RunUpdate)
    case event(RunEvent)

    /// A rough size in memory, for the buffer bound.
    var estimatedBytes: Int {
        switch self {
        case .param(let key, let value), .tag(let key, let value): 64 + key.utf8.count + value.utf8.count
        case .create, .update: 256
        case .event(let event): 96 + event.kind.utf8.count + event.message.utf8.count + (event.payload?.utf8.count ?? 0)
        }
    }
}

/// What callers have logged and the writer has not taken yet.
struct PendingBuffer: Sendable {
    var points: [PendingPoint] = []
    /// Items other than points, each with the number of points logged before it and its run's slot.
    var events: [(position: Int, run: Int32, item: PendingItem)] = []
    var eventBytes = 0
    /// The ledger's accepted count when this chunk was closed: once it is written, everything up to here is durable.
    var endSequence = 0

    init() {}

    init(reserving capacity: Int) { points.reserveCapacity(capacity) }

    var count: Int { points.count + events.count }
    /// Memory taken by what it holds, for the buffer bound (chunks are reserved at their full size, so a full chunk's
    /// points are its capacity).
    var bytes: Int { points.count * MemoryLayout<PendingPoint>.stride + eventBytes }

    /// The piece of at most `size` points that starts at point `start`, with the events that belong to it (those
    /// logged before its last point, and for the last piece all the rest). `eventIndex` moves past the events taken.
    func piece(from start: Int, size: Int, eventIndex: inout Int) -> PendingBuffer {
        if start == 0 && eventIndex == 0 && points.count <= size {
            eventIndex = events.count
            return self  // the usual case: the whole chunk, without copying its points
        }
        let end = min(points.count, start + size)
        var piece = PendingBuffer()
        piece.points = Array(points[start..<end])
        while eventIndex < events.count, events[eventIndex].position < end || end == points.count {
            let event = events[eventIndex]
            piece.events.append((max(0, event.position - start), event.run, event.item))
            piece.eventBytes += event.item.estimatedBytes
            eventIndex += 1
        }
        return piece
    }
}

/// A run being recorded. Every method is synchronous, non-throwing and does no I/O: bad input is reported through
/// ``Ledger/problems`` and the ledger's logger, never thrown into the simulation.
public struct RunHandle: Sendable, Hashable {
    /// The run's id, chosen by the client.
    public let id: RunID
    /// The run's slot in the ledger's table of runs, so that a point need not carry the id.
    let slot: Int32
    let ledger: Ledger

    public static func == (lhs: RunHandle, rhs: RunHandle) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// Logs one metric point. `timestamp` defaults to now (milliseconds since the epoch).
    public func log(_ key: String, _ value: Double, step: Int64 = 0, timestamp: Int64? = nil) {
        ledger.enqueuePoint(run: slot, key: key, value: value, timestamp: timestamp ?? Ledger.now(), step: step)
    }

    /// Logs one metric point under a key from ``Ledger/metricKey(_:)`` (the fastest way to log).
    public func log(_ key: MetricKey, _ value: Double, step: Int64 = 0, timestamp: Int64? = nil) {
        ledger.enqueuePoint(run: slot, keySlot: key.slot, key: key.name, value: value, timestamp: timestamp ?? Ledger.now(), step: step)
    }

    /// Logs several metrics at one step, with one timestamp (now by default).
    public func log(_ metrics: [String: Double], step: Int64 = 0, timestamp: Int64? = nil) {
        let pairs = Array(metrics)
        ledger.enqueuePoints(run: slot, count: pairs.count, timestamp: timestamp ?? Ledger.now(), step: step) { state, index in
            (state.slot(forKey: pairs[index].key), pairs[index].value)
        }
    }

    /// Logs one value per key at one step, with one timestamp (now by default): the cheapest way to log several
    /// metrics per step, one lock and one clock reading for all of them. `values[i]` belongs to `keys[i]`; extra
    /// values or keys are ignored.
    ///
    /// ```swift
    /// let keys = ["soc", "pv_kw", "demand_kw"].map(ledger.metricKey)
    /// for step in 0..<steps { run.log(keys, [soc, pv, demand], step: Int64(step)) }
    /// ```
    public func log(_ keys: [MetricKey], _ values: [Double], step: Int64 = 0, timestamp: Int64? = nil) {
        ledger.enqueuePoints(run: slot, count: min(keys.count, values.count), timestamp: timestamp ?? Ledger.now(), step: step) { _, index in
            (keys[index].slot, values[index])
        }
    }

    /// Logs the run's final KPIs (metrics at step 0).
    public func setKPIs(_ kpis: [String: Double]) { log(kpis, step: 0) }

    /// Logs a param. Params are immutable: another value for the same key is rejected (see ``Ledger/problems``).
    public func setParam(_ key: String, _ value: String) { ledger.enqueue([.param(key, value)], slot: slot) }

    /// Sets a tag.
    public func setTag(_ key: String, _ value: String) { ledger.enqueue([.tag(key, value)], slot: slot) }

    /// Appends an event to the run's event log (a health check, a tool call, a warning): like every log call it only
    /// buffers, travels through the same batches and spool as the metrics, and reports a bad kind or a payload
    /// that is not JSON through ``Ledger/problems`` instead of throwing.
    ///
    /// ```swift
    /// run.event("tool_call", "searched the catalogue", level: .info, payload: #"{"tool": "search", "ms": 41}"#)
    /// ```
    public func event(_ kind: String, _ message: String = "", level: EventLevel = .info, payload: String? = nil, timestamp: Int64? = nil) {
        ledger.enqueue(
            [.event(RunEvent(timestamp: timestamp ?? Ledger.now(), level: level, kind: kind, message: message, payload: payload))], slot: slot)
    }

    /// Sends a local file to the run's artifacts at `folder/<its name>` (the run's root by default), as
    /// `mlflow.log_artifact` does, without waiting: the ledger's uploader copies the file to the spool root's staging
    /// folder right after the call and uploads it from there, also when the store is down for a while (then later).
    /// ``Ledger/flush()`` returns once the copy is made; change the file only after that. Needs
    /// ``LedgerConfiguration/artifacts``; a missing file or a bad path is reported through ``Ledger/problems``.
    public func logArtifact(file: URL, at folder: String = "") {
        ledger.logArtifact(runID: id, folder: folder, name: file.lastPathComponent, content: .file(file))
    }

    /// Sends `text` (UTF-8) to the run's artifacts at `path`, as `mlflow.log_text` does; like
    /// ``logArtifact(file:at:)`` it returns at once.
    public func logText(_ text: String, at path: String) {
        ledger.logArtifact(runID: id, folder: "", name: path, content: .text(Array(text.utf8)))
    }

    /// Ends the run with a terminal status (FINISHED by default) and stops its heartbeat.
    public func end(status: RunStatus = .finished) {
        ledger.enqueue([.update(RunUpdate(status: status, endTime: Ledger.now()))], slot: slot, closing: id)
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
