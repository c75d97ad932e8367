import Foundation
import GRDB
import Testing

@testable import LedgerSQLite

@Suite("WAL checkpoints")
struct WALCheckpointerTests {
    func pool(_ path: String, _ checkpointer: WALCheckpointer) async throws -> DatabasePool {
        var configuration = Configuration()
        configuration.prepareDatabase { db in if !db.configuration.readonly { checkpointer.install(on: db) } }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try await pool.write { try $0.execute(sql: "CREATE TABLE blobs (data BLOB NOT NULL)") }
        return pool
    }

    func insert(_ pool: DatabasePool, rows: Int, bytes: Int) async throws {
        for _ in 0..<rows { try await pool.write { try $0.execute(sql: "INSERT INTO blobs VALUES (randomblob(?))", arguments: [bytes]) } }
    }

    func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    @Test("the writer's commits are copied into the database file by the background, long before SQLite's own checkpoint would")
    func background() async throws {
        let path = temporaryPath("background.sqlite")
        let checkpointer = WALCheckpointer(path: path, backgroundFrames: 20, writerFrames: 1_000_000)
        let pool = try await pool(path, checkpointer)
        let empty = size(path)
        // About 300 frames: SQLite's automatic checkpoint (1000 frames) would not have run, and the writer never does.
        try await insert(pool, rows: 100, bytes: 8000)
        await checkpointer.waitUntilIdle()
        // Not every row: once a checkpoint is complete the log restarts, and the last few commits may stay below the bound.
        #expect(size(path) >= empty + 80 * 8000, "most rows are in the database file, not only in the log")
        await checkpointer.stop()
        try pool.close()
        #expect(
            !FileManager.default.fileExists(atPath: path + "-wal"), "with the checkpoint connection closed first, closing the pool removes the log")
    }

    @Test("past its bound the writer checkpoints itself, so the log restarts and stays bounded")
    func bounded() async throws {
        let path = temporaryPath("bounded.sqlite")
        let checkpointer = WALCheckpointer(path: path, backgroundFrames: 1_000_000, writerFrames: 100)
        let pool = try await pool(path, checkpointer)
        // About 800 frames without a checkpoint; each transaction writes a few.
        try await insert(pool, rows: 400, bytes: 3000)
        let frame = 4096 + 24
        #expect(size(path + "-wal") <= 32 + (100 + 10) * frame)
        #expect(try await pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM blobs") } == 400)
        await checkpointer.stop()
        try pool.close()
    }

    @Test("a stopped checkpointer checkpoints no more, and the writer goes on")
    func stopped() async throws {
        let path = temporaryPath("stopped.sqlite")
        let checkpointer = WALCheckpointer(path: path, backgroundFrames: 20, writerFrames: 1_000_000)
        let pool = try await pool(path, checkpointer)
        await checkpointer.stop()
        let empty = size(path)
        try await insert(pool, rows: 100, bytes: 8000)
        await checkpointer.waitUntilIdle()
        #expect(size(path) == empty)
        #expect(try await pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM blobs") } == 100)
        try pool.close()
    }
}
