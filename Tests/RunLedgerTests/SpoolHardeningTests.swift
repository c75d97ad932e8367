import Foundation
import LedgerCore
import LedgerSQLite
import Testing

@testable import RunLedger

#if canImport(Glibc)
    import Glibc
#endif

/// A `writev` that fails on demand the way a full disk does: the first call writes part of the record, the next
/// answers ENOSPC.
final class FullDisk: @unchecked Sendable {  // touched by one test's writer only, on one thread
    var failing = false
    private var wrotePart = false

    func write(_ descriptor: Int32, _ pieces: UnsafePointer<iovec>, _ count: Int32) -> Int {
        guard failing else { return writev(descriptor, pieces, count) }
        if !wrotePart, pieces[0].iov_len > 3 {
            wrotePart = true
            return Glibc.write(descriptor, pieces[0].iov_base, 3)
        }
        errno = ENOSPC
        return -1
    }
}

@Suite("Spool hardening", .serialized)
struct SpoolHardeningTests {
    func batch(_ index: Int) -> WriteBatch { WriteBatch(id: BatchID.random(), [.heartbeat([RunID.random()], at: Int64(index))]) }

    @Test("a write that fails part-way (a full disk) is cut back: the records before and after it read back, none is torn")
    func fullDisk() throws {
        let root = temporaryFolder("full-disk")
        let disk = FullDisk()
        let writer = try SpoolWriter(root: root, identity: "sqlite:/x") { disk.write($0, $1, $2) }
        let first = batch(1)
        let lost = batch(2)
        let later = batch(3)
        try writer.append([first])
        disk.failing = true
        #expect(throws: LedgerError.self) { try writer.append([lost]) }
        disk.failing = false
        try writer.append([later])
        try writer.sync()
        writer.closeSegment()
        let segments = Spool.segments(in: writer.folder).map(Spool.read)
        #expect(segments.flatMap(\.batches) == [first, later])
        #expect(segments.allSatisfy { $0.problem == nil }, "\(segments.compactMap(\.problem))")
    }

    @Test("a spool folder left for another database is not replayed into this one, and is replayed into its own")
    func wrongDatabase() async throws {
        let folder = temporaryFolder("wrong-database")
        let spool = folder.appendingPathComponent("spool")
        let mine = try await SQLiteStore.open(path: folder.appendingPathComponent("mine.sqlite").path)
        let other = try await SQLiteStore.open(path: folder.appendingPathComponent("other.sqlite").path)
        let run = NewRun(experimentName: "left-behind", startTime: 1)
        let writer = try SpoolWriter(root: spool, identity: mine.identity)
        try writer.append([
            WriteBatch(id: BatchID.random(), [.createRun(run), .logMetrics(run.runID, [Metric(key: "m", value: 1, timestamp: 1, step: 1)])])
        ])
        writer.shutdown()

        let elsewhere = try await Ledger.withLedger(store: other, configuration: fastRetries(spool)) { $0 }
        #expect(elsewhere.statistics.replayed == 0)
        #expect(elsewhere.problems.contains { $0.message.contains("not for \(other.identity)") })
        await #expect(throws: LedgerError.self) { _ = try await other.run(run.runID) }

        let home = try await Ledger.withLedger(store: mine, configuration: fastRetries(spool)) { $0 }
        #expect(home.statistics.replayed == 2)
        #expect(try await mine.metricHistory(runID: run.runID, key: "m").map(\.value) == [1])
        #expect(Spool.folders(in: spool).isEmpty)
    }

    @Test("close replays the spool once the store is back; if it stays down, close says how many items are pending and where")
    func closeDrainsOrReports() async throws {
        let folder = temporaryFolder("close-drain")
        let path = folder.appendingPathComponent("db.sqlite").path
        let store = try await SQLiteStore.open(path: path, options: SQLiteOptions(busyTimeout: 0.05))
        let lock = try WriteLockHolder(path: path)
        try lock.lock()
        let spool = folder.appendingPathComponent("spool")
        let stuck = try await Ledger.withLedger(store: store, configuration: fastRetries(spool)) { ledger in
            let run = ledger.startRun(experiment: "outage", name: "down")
            for step in 0..<100 { run.log("x", Double(step), step: Int64(step)) }
            run.end()
            return ledger
        }
        // Everything was spooled (the store was down throughout) and is still there: the run, 100 points, its end.
        let pending = stuck.statistics.pending
        #expect(pending == stuck.statistics.spooled && pending >= 102 && stuck.statistics.written == 0)
        #expect(stuck.problems.contains { $0.message.contains("\(pending) item(s) are still in the spool") && $0.message.contains(spool.path) })
        lock.unlock()
        // The next ledger on the same spool folder delivers them, and its own close waits for that.
        let next = try await Ledger.withLedger(store: store, configuration: fastRetries(spool)) { $0 }
        #expect(next.statistics.pending == 0 && next.statistics.replayed == pending)
        #expect(try storedPoints(path, key: "x").count == 100)
        #expect(try scalar(path, "SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'") == 1)
    }
}
