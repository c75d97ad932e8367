import Foundation
import LedgerCore
import LedgerNative
import Logging
import Metrics

/// The ledger's background writer. One loop does everything that touches the store or the spool, in order, so that
/// nothing needs to coordinate: drain the buffer, write or spool, replay, heartbeat.
final class WriterLoop {
    private let ledger: Ledger
    private let configuration: LedgerConfiguration
    private let spool: SpoolWriter
    /// Spool folders of processes that died, waiting to be replayed.
    private var adopted: [SpoolFolderLock] = []
    /// While true, new batches go to the spool (behind what is already there), until replay catches up.
    private var spooling = false
    private var backoff: Backoff
    private var nextAttempt = ContinuousClock.now
    private var lastHeartbeat = ContinuousClock.now
    /// How many batches of a segment were already delivered, so a replay resumed after a failure skips them.
    private var replayProgress: [URL: Int] = [:]
    /// The segment being replayed, decoded once for all the turns it takes.
    private var replaying: Spool.Segment?
    private var validKeys: Set<String> = []
    private var random = SystemRandomNumberGenerator()
    private let counters: SDKCounters
    /// The statistics as last exported through swift-metrics.
    private var exported = LedgerStatistics()

    init(ledger: Ledger) throws {
        self.ledger = ledger
        self.configuration = ledger.configuration
        self.backoff = Backoff(initial: configuration.initialRetryDelay, maximum: configuration.maximumRetryDelay)
        self.counters = SDKCounters(factory: configuration.metricsFactory ?? MetricsSystem.factory)
        let identity = ledger.store.identity
        self.spool = try SpoolWriter(root: configuration.spoolDirectory, identity: identity)
        for folder in Spool.folders(in: configuration.spoolDirectory) where folder != spool.folder {
            guard let lock = SpoolFolderLock(adopting: folder) else { continue }  // a live process owns it
            let segments = Spool.segments(in: folder)
            if segments.isEmpty {
                lock.release()
                continue
            }
            // A folder left for another database stays for a ledger on that one (or `runledger spool replay --any-database`).
            if !configuration.replaysAnyDatabase, !identity.isEmpty, let written = segments.lazy.compactMap(Spool.identity(of:)).first,
                written != identity
            {
                ledger.report(
                    "Spool folder \(folder.lastPathComponent) holds batches for \(written), not for \(identity): left untouched. "
                        + "Replay it with 'runledger spool replay --database \(written)'."
                )
                lock.release()
                continue
            }
            adopted.append(lock)
        }
        if !adopted.isEmpty {
            configuration.logger.info("replaying spool folders left by earlier processes", metadata: ["folders": "\(adopted.count)"])
        }
    }

    func run() async {
        var closeDeadline: ContinuousClock.Instant?
        while true {
            let closing = ledger.shared.withLock { $0.closing }
            if closing && closeDeadline == nil { closeDeadline = .now + configuration.closeTimeout }
            var timeout = configuration.flushInterval
            if needsReplay { timeout = min(timeout, max(.milliseconds(1), nextAttempt - .now)) }
            if !closing { await ledger.doorbell.wait(timeout: timeout) }
            await drain()
            releaseMemoryAfterBurst()
            // Memory first: while callers are ahead of the writer, every turn goes to spilling, none to replay.
            if needsReplay && ContinuousClock.now >= nextAttempt && (!callersAhead || closing) {
                await replay(budget: closing ? .max : 8, yielding: !closing)
            }
            if ContinuousClock.now - lastHeartbeat >= configuration.heartbeatInterval { await heartbeat() }
            if let closeDeadline, ledger.shared.withLock({ $0.backlogCount == 0 }) {
                // Closing drains the spool too while the store may come back: a study's runs should not be left behind.
                guard needsReplay, ContinuousClock.now < closeDeadline else { break }
                try? await Task.sleep(until: min(nextAttempt, closeDeadline))
            }
        }
        spool.shutdown()
        let left = adopted.map(\.folder) + [spool.folder]
        let pending = left.flatMap { Spool.segments(in: $0) }.reduce(0) { $0 + Spool.read($1).items }
        if pending > 0 {
            ledger.shared.withLock { $0.statistics.pending = pending }
            ledger.report(
                "\(pending) item(s) are still in the spool under \(configuration.spoolDirectory.path): the store stayed unavailable for "
                    + "\(configuration.closeTimeout) after close. They are durable and arrive with the next ledger on this spool folder, or run 'runledger spool replay'."
            )
        }
        for lock in adopted { lock.release() }
    }

    private var needsReplay: Bool { spooling || !adopted.isEmpty }

    /// Callers have logged a quarter of the buffer's share since the writer last caught up: replay must give way,
    /// between any two batches, or a fast caller fills the buffer while a replay turn runs.
    private var callersAhead: Bool { ledger.shared.withLock { $0.backlogBytes } > configuration.bufferLimit / 4 }

    // MARK: Draining

    /// Writes what callers logged, one chunk at a time, oldest first; the current chunk is taken last, so that a
    /// flush completes. Returns after the chunks that were waiting when it started, so replay and heartbeats get turns.
    private func drain() async {
        var turns = ledger.shared.withLock { $0.full.count } + 1
        var settled = 0
        while turns > 0 {
            turns -= 1
            var taken = ledger.shared.withLock { state -> (chunk: PendingBuffer?, runs: [RunID], keys: [String], backlog: Int, accepted: Int) in
                // Keep two empty chunks ready, allocated here rather than on a caller's thread.
                while state.spares.count < 2 { state.spares.append(PendingBuffer(reserving: configuration.batchSize)) }
                let backlog = state.backlogBytes
                var chunk: PendingBuffer
                if !state.full.isEmpty {
                    chunk = state.full.removeFirst()
                } else {
                    guard state.buffer.count > 0 else { return (nil, [], [], 0, state.accepted) }
                    chunk = state.buffer
                    chunk.endSequence = state.accepted
                    state.buffer = state.spares.popLast() ?? PendingBuffer(reserving: configuration.batchSize)
                }
                // A chunk taken makes room: callers may buffer again.
                state.atBound = backlog - chunk.bytes >= configuration.bufferLimit
                return (chunk, state.runs, state.keys, backlog, state.accepted)
            }
            guard let first = taken.chunk else {
                settle(upTo: taken.accepted)
                return
            }
            // The only reference to the chunk's storage from here on, so that recycling it reuses the storage.
            taken.chunk = nil
            let chunk = consume first
            // A backlog past half the bound means the store is slower than the simulation: spill to the spool.
            let spill = taken.backlog > configuration.bufferLimit / 2
            if spill && !spooling { configuration.logger.info("buffer over half its bound: spilling to the spool") }
            var start = 0
            var eventIndex = 0
            repeat {
                let piece = chunk.piece(from: start, size: configuration.batchSize, eventIndex: &eventIndex)
                if (spill || spooling) && spillRaw(piece, runs: taken.runs, keys: taken.keys) {
                    // Spilled as packed points: one pass and a checksum, the fast path that keeps up with the caller.
                } else {
                    await deliver(batches(from: piece, runs: taken.runs, keys: taken.keys), spill: spill)
                }
                start += piece.points.count
            } while start < chunk.points.count
            settled = chunk.endSequence
            recycle(consume chunk)
            // One fsync per chunk would cap spilling at the disk's sync rate, far below a fast caller's: while the
            // writer is behind, chunks share a sync (group commit), at least every `syncEvery` bytes.
            if !spill || turns == 0 || spool.unsyncedBytes >= WriterLoop.syncEvery { settle(upTo: settled) }
            if spill { turns = max(turns, 1) }  // keep going while behind
        }
        settle(upTo: settled)
    }

    /// Where spilled chunks are packed, reused from one chunk to the next.
    private var spillBuffer: [UInt8] = []
    /// Items appended to the spool since its last sync: what a failed sync loses.
    private var unsyncedItems = 0

    /// The largest backlog seen since memory was last given back.
    private var backlogPeak = 0

    /// After a burst has been written, gives the freed chunks back to the system. glibc keeps freed heap memory for
    /// reuse, and replay's allocations are of other sizes: without this, a burst's 50 MiB stayed resident while the
    /// replay that followed it took its own memory, and the process passed the bound by ~25 MiB.
    private func releaseMemoryAfterBurst() {
        let backlog = ledger.shared.withLock { $0.backlogBytes }
        backlogPeak = max(backlogPeak, backlog)
        guard backlogPeak > configuration.bufferLimit / 4, backlog < configuration.bufferLimit / 16 else { return }
        backlogPeak = 0
        ledger.shared.withLock { state in
            if state.spares.count > WriterLoop.sparesKept { state.spares.removeLast(state.spares.count - WriterLoop.sparesKept) }
        }
        runledger_release_free_memory()
    }

    /// Keeps a written chunk's storage for callers to fill again: during a burst every chunk, as long as chunks in use
    /// and kept stay within the buffer's share. Freeing chunks while callers allocated new ones left glibc's per-thread
    /// arenas holding ~20 MiB more than the buffer at its peak.
    private func recycle(_ chunk: consuming PendingBuffer) {
        guard chunk.points.capacity >= configuration.batchSize else { return }
        chunk.points.removeAll(keepingCapacity: true)
        chunk.events = []
        chunk.eventBytes = 0
        chunk.endSequence = 0
        let chunkBytes = configuration.batchSize * MemoryLayout<PendingPoint>.stride
        let ready = consume chunk
        ledger.shared.withLock { state in
            let held = state.backlogBytes + (state.spares.count + 1) * chunkBytes
            if state.spares.count < WriterLoop.sparesKept || held <= configuration.bufferLimit { state.spares.append(ready) }
        }
    }

    /// Chunks kept ready for callers when no burst is on: enough to start one without allocating (~2.5 MiB).
    static let sparesKept = 8

    /// While spilling, spooled bytes are synced at least this often.
    static let syncEvery = 16 << 20

    /// Appends a piece of plain points to the spool as one raw record, when it has no run events and only valid keys
    /// (anything else takes the ordinary path). Returns whether it did.
    private func spillRaw(_ piece: PendingBuffer, runs: [RunID], keys: [String]) -> Bool {
        guard piece.events.isEmpty, !piece.points.isEmpty else { return false }
        var runSlots: [Int32] = []
        var keySlots: [Int32] = []
        var lastRun: Int32 = -1
        var lastKey: Int32 = -1
        for point in piece.points {
            if point.run != lastRun {
                lastRun = point.run
                if !runSlots.contains(point.run) { runSlots.append(point.run) }
            }
            if point.key != lastKey {
                lastKey = point.key
                if !keySlots.contains(point.key) {
                    guard validKeys.contains(keys[Int(point.key)]) else { return false }
                    keySlots.append(point.key)
                }
            }
            if runSlots.count > 64 || keySlots.count > 64 { return false }  // a scattered piece: the ordinary path groups it better
        }
        RawPoints.encode(
            id: BatchID.random(), points: piece.points, runs: runSlots.map { ($0, runs[Int($0)]) }, keys: keySlots.map { ($0, keys[Int($0)]) },
            into: &spillBuffer
        )
        do {
            try spool.append(payloads: [spillBuffer])
        } catch {
            return false
        }
        if !spooling { enterSpooling(immediateReplay: true) }
        unsyncedItems += piece.points.count
        ledger.shared.withLock { $0.statistics.spooled += piece.points.count }
        counters.spooled.increment(by: piece.points.count)
        return true
    }

    /// Marks everything accepted up to `upTo` as durable and wakes the flushes waiting for it.
    private func settle(upTo: Int) {
        // Spooled records count as durable only once synced: one fsync for everything this round appended.
        do {
            try spool.sync()
        } catch {
            // An fsync that failed may have dropped what it was to write: nothing since the last sync is durable.
            let items = unsyncedItems
            ledger.shared.withLock { $0.statistics.lost += items }
            ledger.report("LOST \(items) spooled item(s): the spool cannot be synced (\(error)).")
        }
        unsyncedItems = 0
        let (waiters, statistics, backlog) = ledger.shared.withLock { state -> ([CheckedContinuation<Void, Never>], LedgerStatistics, Int) in
            state.durable = max(state.durable, upTo)
            let ready = state.flushWaiters.filter { $0.target <= state.durable }
            state.flushWaiters.removeAll { $0.target <= state.durable }
            return (ready.map(\.continuation), state.statistics, state.backlogCount)
        }
        for waiter in waiters { waiter.resume() }
        // Callers count into the shared statistics (no metrics call on the hot path); export the difference here.
        counters.logged.increment(by: statistics.logged - exported.logged)
        counters.rejected.increment(by: statistics.rejected - exported.rejected)
        if statistics.dropped > exported.dropped {
            counters.dropped.increment(by: statistics.dropped - exported.dropped)
            ledger.report(
                "DROPPED \(statistics.dropped - exported.dropped) point(s): they were logged faster than the spool could absorb them "
                    + "with the buffer at its bound (\(configuration.bufferBound >> 20) MiB). Log less often, or raise bufferBound."
            )
        }
        exported = statistics
        counters.buffered.record(backlog)
    }

    /// Groups items into operations per run (keeping each run's order) and packs them into batches of `batchSize`.
    /// Runs are keyed by their slot here: hashing an Int32 per point is cheap, hashing a 32-character id is not.
    private func batches(from buffer: PendingBuffer, runs: [RunID], keys: [String]) -> [WriteBatch] {
        var operations: [WriteOperation] = []
        var metrics: [Int32: [Metric]] = [:]
        var params: [Int32: [KeyValue]] = [:]
        var tags: [Int32: [KeyValue]] = [:]
        var events: [Int32: [RunEvent]] = [:]
        var order: [Int32] = []
        var touched: Set<Int32> = []
        func touch(_ run: Int32) { if touched.insert(run).inserted { order.append(run) } }
        func flush(_ run: Int32) {
            let id = runs[Int(run)]
            if let list = params.removeValue(forKey: run) { operations.append(.logParams(id, list)) }
            if let list = tags.removeValue(forKey: run) { operations.append(.setTags(id, list)) }
            if let list = metrics.removeValue(forKey: run) { operations.append(.logMetrics(id, list)) }
            if let list = events.removeValue(forKey: run) {
                for start in stride(from: 0, to: list.count, by: Limits.eventsPerBatch) {
                    operations.append(.logEvents(id, Array(list[start..<min(start + Limits.eventsPerBatch, list.count)])))
                }
            }
            touched.remove(run)
        }
        var rejected = 0
        var keyAccepted = keys.map { _ in Bool?.none }
        func addPoints(upTo end: Int, from start: Int) {
            var lastRun: Int32 = -1
            var current: [Metric] = []
            for point in buffer.points[start..<end] {
                let index = Int(point.key)
                if keyAccepted[index] == nil { keyAccepted[index] = accept(keys[index], kind: "Metric", run: runs[Int(point.run)]) }
                guard keyAccepted[index] == true else {
                    rejected += 1
                    continue
                }
                // Consecutive points usually belong to one run: collect them before touching the dictionary.
                if point.run != lastRun {
                    if lastRun >= 0 { metrics[lastRun, default: []] += current }
                    current.removeAll(keepingCapacity: true)
                    lastRun = point.run
                    touch(point.run)
                }
                current.append(Metric(key: keys[index], value: point.value, timestamp: point.timestamp, step: point.step))
            }
            if lastRun >= 0 { metrics[lastRun, default: []] += current }
        }
        var pointsDone = 0
        for (position, run, item) in buffer.events {
            if position > pointsDone {
                addPoints(upTo: position, from: pointsDone)
                pointsDone = position
            }
            switch item {
            case .param(let key, let value), .tag(let key, let value):
                let isParam = if case .param = item { true } else { false }
                guard accept(key, kind: isParam ? "Param" : "Tag", run: runs[Int(run)]) else {
                    rejected += 1
                    continue
                }
                touch(run)
                if isParam { params[run, default: []].append(KeyValue(key, value)) } else { tags[run, default: []].append(KeyValue(key, value)) }
            case .create(let new):
                // The first heartbeat travels with the creation, so a process that dies before its next one is reaped.
                operations.append(.createRun(new))
                operations.append(.heartbeat([new.runID], at: new.startTime))
            case .update(let update):
                flush(run)
                operations.append(.updateRun(runs[Int(run)], update))
            case .event(let event):
                do {
                    try event.validate()
                } catch {
                    ledger.report("Rejected an event of run \(runs[Int(run)]): \(error.message)")
                    rejected += 1
                    continue
                }
                touch(run)
                events[run, default: []].append(event)
            }
        }
        addPoints(upTo: buffer.points.count, from: pointsDone)
        for run in order where touched.contains(run) { flush(run) }
        if rejected > 0 { ledger.shared.withLock { $0.statistics.rejected += rejected } }

        var batches: [WriteBatch] = []
        var current: [WriteOperation] = []
        var size = 0
        func close() {
            if !current.isEmpty { batches.append(WriteBatch(id: BatchID.random(), current)) }
            current = []
            size = 0
        }
        for operation in operations {
            if case .logMetrics(let run, let list) = operation, size + list.count > configuration.batchSize {
                var start = 0
                while start < list.count {
                    let room = max(1, configuration.batchSize - size)
                    let end = min(list.count, start + room)
                    current.append(.logMetrics(run, Array(list[start..<end])))
                    size += end - start
                    start = end
                    if size >= configuration.batchSize { close() }
                }
                continue
            }
            current.append(operation)
            size += WriteBatch([operation]).itemCount
            if size >= configuration.batchSize { close() }
        }
        close()
        return batches
    }

    /// Checks a key once per distinct key; a bad key is reported, never thrown.
    private func accept(_ key: String, kind: String, run: RunID) -> Bool {
        if validKeys.contains(key) { return true }
        do {
            try Validation.checkKey(key, kind: kind)
            validKeys.insert(key)
            return true
        } catch {
            ledger.report("Rejected a \(kind.lowercased()) of run \(run): \(error.message)")
            return false
        }
    }

    // MARK: Delivering

    private func deliver(_ batches: [WriteBatch], spill: Bool) async {
        for (index, batch) in batches.enumerated() {
            if spooling || spill {
                appendToSpool(Array(batches[index...]))
                if spill && !spooling { enterSpooling(immediateReplay: true) }
                return
            }
            switch await attempt(batch) {
            case .delivered:
                count(written: batch.itemCount)
            case .unavailable:
                enterSpooling(immediateReplay: false)
                appendToSpool(Array(batches[index...]))
                return
            case .refused:
                await deliverOneByOne(batch, replaying: false)
            }
        }
    }

    private enum Attempt {
        case delivered
        /// The store is unreachable or failed for a reason that is not the data's fault: keep the batch.
        case unavailable
        /// The store refused the data (a changed param, an unknown run): retrying will not help.
        case refused(LedgerError)
    }

    private func attempt(_ batch: WriteBatch) async -> Attempt {
        do {
            _ = try await ledger.store.write(batch)
            return .delivered
        } catch let error as LedgerError where WriterLoop.isCallersFault(error) {
            return .refused(error)
        } catch {
            configuration.logger.debug("store write failed", metadata: ["error": "\(error)"])
            return .unavailable
        }
    }

    static func isCallersFault(_ error: LedgerError) -> Bool {
        [.invalidParameterValue, .resourceDoesNotExist, .resourceAlreadyExists, .invalidState].contains(error.code)
    }

    /// Writes a refused batch operation by operation (ids derived from the batch's, so a replay stays exactly-once),
    /// rejecting only the operations the store refuses. Returns false if the store became unavailable meanwhile.
    @discardableResult
    private func deliverOneByOne(_ batch: WriteBatch, replaying: Bool) async -> Bool {
        for (index, operation) in batch.operations.enumerated() {
            let single = WriteBatch(id: derivedID(batch.id, index), [operation])
            switch await attempt(single) {
            case .delivered:
                if replaying { count(replayed: single.itemCount) } else { count(written: single.itemCount) }
            case .refused(let error):
                ledger.shared.withLock { $0.statistics.rejected += single.itemCount }
                ledger.report(
                    "The store refused \(single.itemCount) item(s) of run \(operation.runIDs.map(\.rawValue).joined(separator: ", ")): \(error.message)"
                )
            case .unavailable:
                if !replaying {
                    enterSpooling(immediateReplay: false)
                    appendToSpool(
                        batch.operations[index...].enumerated().map { WriteBatch(id: derivedID(batch.id, index + $0.offset), [$0.element]) })
                }
                return false
            }
        }
        return true
    }

    private func derivedID(_ parent: BatchID?, _ index: Int) -> BatchID {
        guard let parent else { return BatchID.random() }
        return BatchID(String(SHA256.hex("\(parent.rawValue)/\(index)".utf8).prefix(32)))!
    }

    private func appendToSpool(_ batches: [WriteBatch]) {
        guard !batches.isEmpty else { return }
        do {
            try spool.append(batches)
            let items = batches.reduce(0) { $0 + $1.itemCount }
            unsyncedItems += items
            ledger.shared.withLock { $0.statistics.spooled += items }
            counters.spooled.increment(by: items)
        } catch {
            // Nothing durable is left to fall back on: say so loudly, and count the loss.
            let items = batches.reduce(0) { $0 + $1.itemCount }
            ledger.shared.withLock { $0.statistics.lost += items }
            ledger.report("LOST \(items) item(s): the store is unavailable and the spool cannot be written (\(error)).")
        }
    }

    private func enterSpooling(immediateReplay: Bool) {
        if !spooling {
            configuration.logger.warning("store unavailable or behind: spooling batches to \(spool.folder.path)")
            spooling = true
            backoff.reset()
            nextAttempt = immediateReplay ? .now : .now + backoff.nextDelay(using: &random)
        }
    }

    // MARK: Replaying

    /// Sends spooled batches (adopted folders first, then our own) to the store in order, at most `budget` batches
    /// this time, and when `yielding` none once callers are ahead; deletes each segment once all its batches are
    /// acknowledged.
    private func replay(budget: Int, yielding: Bool) async {
        var remaining = budget
        if spooling { spool.closeSegment() }
        let segments = adopted.flatMap { Spool.segments(in: $0.folder) } + (spooling ? spool.closedSegments() : [])
        for url in segments {
            let segment = replaying?.url == url ? replaying! : Spool.read(url)
            replaying = segment
            var index = replayProgress[url] ?? 0
            while index < segment.count {
                guard remaining > 0, !yielding || !callersAhead else {
                    replayProgress[url] = index
                    return
                }
                remaining -= 1
                let batch = segment.batch(at: index)
                switch await attempt(batch) {
                case .delivered:
                    count(replayed: batch.itemCount)
                case .refused:
                    if await !deliverOneByOne(batch, replaying: true) { return failed(url: url, index: index) }
                case .unavailable:
                    return failed(url: url, index: index)
                }
                index += 1
            }
            if let problem = segment.problem {
                ledger.shared.withLock { $0.statistics.tornRecords += 1 }
                ledger.report("Spool: \(problem); the records before it were replayed, the rest was skipped (kept as \(url.lastPathComponent).torn).")
                try? FileManager.default.moveItem(at: url, to: url.appendingPathExtension("torn"))
            } else {
                try? FileManager.default.removeItem(at: url)
            }
            replayProgress[url] = nil
            replaying = nil
        }
        // Caught up: our own spool is empty, adopted folders are done.
        for lock in adopted where Spool.segments(in: lock.folder).isEmpty { lock.release() }
        adopted.removeAll { Spool.segments(in: $0.folder).isEmpty }
        if spooling && adopted.isEmpty {
            configuration.logger.info("spool replayed: writing to the store again")
        }
        spooling = false
        backoff.reset()
    }

    private func failed(url: URL, index: Int) {
        replayProgress[url] = index
        nextAttempt = .now + backoff.nextDelay(using: &random)
    }

    // MARK: Heartbeats and counters

    private func heartbeat() async {
        lastHeartbeat = .now
        let runs = ledger.shared.withLock { Array($0.openRuns) }
        guard !runs.isEmpty, !spooling else { return }
        _ = try? await ledger.store.write(WriteBatch(id: BatchID.random(), [.heartbeat(runs, at: Ledger.now())]))
    }

    private func count(written: Int) {
        ledger.shared.withLock { $0.statistics.written += written }
        counters.written.increment(by: written)
    }

    private func count(replayed: Int) {
        ledger.shared.withLock {
            $0.statistics.replayed += replayed
            $0.statistics.written += replayed
        }
        counters.replayed.increment(by: replayed)
    }
}

extension WriteOperation {
    var runIDs: [RunID] {
        switch self {
        case .createRun(let run): [run.runID]
        case .logMetrics(let id, _), .logParams(let id, _), .setTags(let id, _), .deleteTag(let id, _), .updateRun(let id, _), .logEvents(let id, _):
            [id]
        case .heartbeat(let ids, _): ids
        }
    }
}

/// The SDK's counters, exported through swift-metrics (the server's /metrics shows them when it bootstraps a backend).
struct SDKCounters {
    let logged, rejected, dropped, written, spooled, replayed: Counter
    let buffered: Gauge

    init(factory: any MetricsFactory) {
        logged = Counter(label: "runledger_sdk_items_logged_total", factory: factory)
        rejected = Counter(label: "runledger_sdk_items_rejected_total", factory: factory)
        dropped = Counter(label: "runledger_sdk_points_dropped_total", factory: factory)
        written = Counter(label: "runledger_sdk_items_written_total", factory: factory)
        spooled = Counter(label: "runledger_sdk_items_spooled_total", factory: factory)
        replayed = Counter(label: "runledger_sdk_items_replayed_total", factory: factory)
        buffered = Gauge(label: "runledger_sdk_items_buffered", factory: factory)
    }
}
