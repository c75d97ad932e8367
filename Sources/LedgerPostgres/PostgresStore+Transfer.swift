public import LedgerCore
import Logging
import NIOCore
import PostgresNIO

// MARK: Transfers (copy, backup, restore)

extension PostgresStore {
    public var backend: String { "postgres" }

    /// One `REPEATABLE READ` transaction on one connection: every read sees the database as of its first statement.
    public func withSnapshot<T: Sendable>(_ body: @escaping @Sendable (SnapshotReader) async throws -> T) async throws -> T {
        let logger = logger
        return try await gate.session { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            let statements = Statements(connection: connection, logger: logger)
            do {
                let value = try await body(
                    SnapshotReader(
                        { sql in
                            do {
                                return try await statements.rows(sql)
                            } catch {
                                throw PostgresFailure(error).ledgerError(attempts: 1, logger: logger)
                            }
                        },
                        digest: { sql, lead in
                            do {
                                return try await statements.digest(sql, lead: lead)
                            } catch {
                                throw PostgresFailure(error).ledgerError(attempts: 1, logger: logger)
                            }
                        }))
                try await connection.query("COMMIT", logger: logger)
                return value
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// `COPY … FROM STDIN` in text format, then `then`, in one transaction.
    public func insert(_ table: TransferTable, columns: [String], rows: [[SQLValue?]], then: [SQLTemplate]) async throws {
        try table.check(columns)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(rows.count * 64)
        for row in rows {
            guard row.count == columns.count else { throw TransferTable.widthMismatch(table) }
            try CopyText.append(row, table: table, to: &buffer)
        }
        let (logger, data) = (logger, buffer)
        try await gate.transaction(idempotent: false) { connection in
            try await connection.copyFrom(table: table.name, columns: columns, logger: logger) { writer in
                var rest = data
                while rest.readableBytes > 0, let slice = rest.readSlice(length: min(rest.readableBytes, 1 << 20)) {
                    try await writer.write(slice)
                }
            }
            let statements = Statements(connection: connection, logger: logger)
            for step in then { try await statements.rows(step) }
        }
    }
}

/// PostgreSQL's COPY text format: tab between columns, a newline after each row, `\N` for NULL, backslash escapes.
enum CopyText {
    static func append(_ row: [SQLValue?], table: TransferTable, to buffer: inout ByteBuffer) throws(LedgerError) {
        for (index, value) in row.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
            switch value {
            case nil, .null?: buffer.writeStaticString("\\N")
            case .integer(let number)?: buffer.writeString(String(number))
            case .real(let number)?:
                if number.isNaN {
                    buffer.writeStaticString("NaN")
                } else if number.isInfinite {
                    buffer.writeStaticString(number < 0 ? "-Infinity" : "Infinity")
                } else {
                    buffer.writeString("\(number)")
                }
            case .text(let text)?:
                for byte in text.utf8 {
                    switch byte {
                    case 0:
                        throw LedgerError(
                            .invalidParameterValue,
                            "A value in table \(table.name) holds a NUL character, which PostgreSQL cannot store. Remove it in the source first.")
                    case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                    case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                    case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                    case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                    default: buffer.writeInteger(byte)
                    }
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }
}

extension Statements {
    /// Hashes each row from the cells' binary bytes, as ``FNV64/add(_:)`` hashes the values they decode to, without
    /// building them: verification reads every row of a copy.
    func digest(_ sql: SQLTemplate, lead: Int) async throws -> SnapshotReader.PageDigest {
        var digest = TableDigest()
        var rows = 0
        var last: SQLValue?
        for try await row in try await connection.query(PostgresStore.query(sql.statement(.postgres)), logger: logger) {
            var hasher = FNV64()
            for (index, cell) in row.enumerated() {
                if index == lead { last = try Self.value(cell) }
                guard var bytes = cell.bytes else {
                    hasher.addNull()
                    continue
                }
                switch (cell.format, cell.dataType, bytes.readableBytes) {
                case (.binary, .int8, 8): hasher.addInteger(bytes.readInteger(as: Int64.self) ?? 0)
                case (.binary, .int4, 4): hasher.addInteger(Int64(bytes.readInteger(as: Int32.self) ?? 0))
                case (.binary, .int2, 2): hasher.addInteger(Int64(bytes.readInteger(as: Int16.self) ?? 0))
                case (.binary, .bool, 1): hasher.addInteger(bytes.readInteger(as: UInt8.self) == 0 ? 0 : 1)
                case (.binary, .float8, 8): hasher.addReal(Double(bitPattern: bytes.readInteger(as: UInt64.self) ?? 0))
                case (_, .text, _), (_, .varchar, _): hasher.addText(bytes.readableBytesView)
                default: hasher.add(try Self.value(cell))
                }
            }
            digest.add(hash: hasher.finalized)
            rows += 1
        }
        return (digest, rows, last)
    }
}
