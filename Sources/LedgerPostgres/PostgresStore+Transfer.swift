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
                        digest: { table in
                            do {
                                return try await statements.digest(of: table)
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
            case .blob(let data)?:
                // bytea's hex input form, its backslash escaped for COPY's text format.
                buffer.writeStaticString("\\\\x")
                buffer.writeBytes(RowHash.hex(data))
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
    /// `table`'s digest computed by PostgreSQL in one scan with the hash functions ``RowHash`` mirrors, so that
    /// verifying a copy does not send every row back; nil when a column has a type it does not hash.
    func digest(of table: TransferTable) async throws -> TableDigest? {
        let types = try await rows(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = \(bound: .text(table.name))"
        )
        let typeOf = Dictionary(try types.map { (try $0.text(0), try $0.text(1)) }, uniquingKeysWith: { first, _ in first })
        var terms: [String] = []
        for (index, column) in table.columns.enumerated() {
            let seed = Int64(bitPattern: RowHash.seed(index))
            let name = "\"\(column)\""
            let hash: String
            switch typeOf[column] {
            case "bigint", "integer", "smallint": hash = "hashint8extended(\(name)::int8, \(seed))"
            case "boolean": hash = "hashint8extended(\(name)::int::int8, \(seed))"
            case "double precision", "real": hash = "hashfloat8extended(\(name)::float8, \(seed))"
            case "text", "character varying": hash = "hashtextextended(\(name)::text, \(seed))"
            case "bytea": hash = "hashtextextended(encode(\(name), 'hex'), \(seed))"
            default: return nil
            }
            terms.append("coalesce(\(hash), CAST(\(Int64(bitPattern: RowHash.null(at: index))) AS int8))")
        }
        // The sum of signed hashes, brought into [0, 2^64): the same residue as the unsigned sum RowHash adds up.
        let modulus = "18446744073709551616"
        let sql = """
            SELECT count(*), coalesce((sum(h) % \(modulus) + \(modulus)) % \(modulus), 0)::text
            FROM (SELECT \(terms.joined(separator: " # ")) AS h FROM \(table.name)) AS hashed
            """
        guard let row = try await rows("\(raw: sql)").first, let sum = UInt64(try row.text(1)) else { return nil }
        return TableDigest(rows: try row.int64(0), sum: sum)
    }
}
