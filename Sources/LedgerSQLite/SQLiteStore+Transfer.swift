import GRDB
public import LedgerCore

// MARK: Transfers (copy, backup, restore)

extension SQLiteStore {
    public var backend: String { "sqlite" }

    /// A read transaction in WAL mode: it sees the database as it was when it began while writers go on.
    public func withSnapshot<T: Sendable>(_ body: @escaping @Sendable (SnapshotReader) async throws -> T) async throws -> T {
        let logger = logger
        let snapshot: DatabaseSnapshot
        do {
            snapshot = try connection.pool().makeSnapshot()
        } catch {
            throw Self.translate(error, logger: logger)
        }
        defer { try? snapshot.close() }
        return try await body(
            SnapshotReader { sql in
                do {
                    return try await snapshot.read { db in try db.rows(sql) }
                } catch {
                    throw Self.translate(error, logger: logger)
                }
            })
    }

    public func insert(_ table: TransferTable, columns: [String], rows: [[SQLValue?]], then: [SQLTemplate]) async throws {
        try table.check(columns)
        let placeholders = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        let sql = "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\(placeholders))"
        try await perform { db in
            let statement = try db.cachedStatement(sql: sql)
            for row in rows {
                guard row.count == columns.count else { throw TransferTable.widthMismatch(table) }
                try statement.execute(arguments: Self.arguments(row.map { $0 ?? .null }))
            }
            for step in then { try db.execute(step) }
        }
    }
}
