import Foundation
import GRDB
import GRDBSQLite
import LedgerCore
import LedgerSQLite
import Testing

@testable import RunLedger

func temporaryFolder(_ label: String) -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-\(label)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// Another connection that takes SQLite's write lock (BEGIN EXCLUSIVE) and holds it: to the store, the database is down.
final class WriteLockHolder: @unchecked Sendable {  // used from one test at a time; the handle is only touched in lock/unlock
    private var handle: OpaquePointer?

    init(path: String) throws {
        guard sqlite3_open(path, &handle) == SQLITE_OK else { throw LedgerError(.internal, "cannot open \(path)") }
    }

    func lock() throws {
        guard sqlite3_exec(handle, "BEGIN EXCLUSIVE", nil, nil, nil) == SQLITE_OK else { throw LedgerError(.internal, "cannot lock") }
    }

    /// Ends the transaction; false if COMMIT failed (the lock would then still be held).
    @discardableResult
    func unlock() -> Bool {
        sqlite3_exec(handle, "COMMIT", nil, nil, nil) == SQLITE_OK
    }

    deinit { sqlite3_close(handle) }
}

/// Reads the database behind the store's back, to check what really arrived.
func scalar(_ path: String, _ sql: String) throws -> Int {
    let queue = try DatabaseQueue(path: path)
    defer { try? queue.close() }
    return try queue.read { try Int.fetchOne($0, sql: sql) ?? -1 }
}

/// The points stored under `key` in the SQLite file at `path`, every run's, decoded from their chunks.
func storedPoints(_ path: String, key: String) throws -> [MetricPoint] {
    let queue = try DatabaseQueue(path: path)
    defer { try? queue.close() }
    let chunks = try queue.read { try Data.fetchAll($0, sql: "SELECT data FROM metric_chunks WHERE key = ?", arguments: [key]) }
    return try chunks.flatMap { try MetricChunk.decode(Array($0)) }
}

/// Waits for a condition that no API can announce (another process's files), checking every 10 ms, up to `limit`.
func eventually(_ limit: Duration = .seconds(60), _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw LedgerError(.internal, "condition not met within \(limit)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

func fastRetries(_ spool: URL, batchSize: Int = 10_000, bufferBound: Int = 64 << 20) -> LedgerConfiguration {
    LedgerConfiguration(
        batchSize: batchSize, flushInterval: .milliseconds(50), bufferBound: bufferBound, spoolDirectory: spool,
        initialRetryDelay: .milliseconds(20), maximumRetryDelay: .milliseconds(200), closeTimeout: .seconds(1)
    )
}
