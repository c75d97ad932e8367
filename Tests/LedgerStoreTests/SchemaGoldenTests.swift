import Foundation
import GRDB
import LedgerCore
import LedgerPostgres
import LedgerSQLite
import Testing

/// The whole schema of a freshly migrated database (tables, columns, types, constraints, indexes), compared with a
/// file kept beside the tests, so that every change to the schema shows up in review as a change to that file.
/// `RUNLEDGER_UPDATE_GOLDEN=1` rewrites the files instead of comparing.
@Suite("Golden schema")
struct SchemaGoldenTests {
    static func golden(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    func compare(_ schema: String, with name: String) throws {
        let file = Self.golden(name)
        if ProcessInfo.processInfo.environment["RUNLEDGER_UPDATE_GOLDEN"] == "1" {
            try schema.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        let (got, want) = (
            schema.split(separator: "\n", omittingEmptySubsequences: false), expected.split(separator: "\n", omittingEmptySubsequences: false)
        )
        let differences = zip(got, want).enumerated().filter { $0.element.0 != $0.element.1 }.prefix(5).map {
            "line \($0.offset + 1): got «\($0.element.0)», file has «\($0.element.1)»"
        }
        #expect(
            schema == expected,
            "the migrated schema differs from \(name) (\(got.count) against \(want.count) lines): \(differences.joined(separator: "; ")). Run with RUNLEDGER_UPDATE_GOLDEN=1 and review the diff."
        )
    }

    @Test("SQLite: a migrated database has exactly the schema in Fixtures/schema-sqlite.txt")
    func sqlite() async throws {
        let path = temporaryPath("golden.sqlite")
        try await SQLiteStore.open(path: path).close()
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let schema = try await queue.read { db in
            var lines: [String] = []
            let tables = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            for table in tables {
                lines.append("table \(table)")
                // Columns as SQLite reports them: name, declared type, NOT NULL, default, position in the primary key.
                for column in try Row.fetchAll(
                    db, sql: "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?) ORDER BY cid", arguments: [table])
                {
                    let defaultValue: String? = column["dflt_value"]
                    lines.append(
                        "  column \(column["name"] as String) \(column["type"] as String)\((column["notnull"] as Int) == 1 ? " NOT NULL" : "")"
                            + (defaultValue.map { " DEFAULT \($0)" } ?? "") + ((column["pk"] as Int) > 0 ? " PK\(column["pk"] as Int)" : "")
                    )
                }
                for key in try Row.fetchAll(
                    db, sql: "SELECT \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq", arguments: [table])
                {
                    lines.append(
                        "  foreign key \(key["from"] as String) -> \(key["table"] as String)(\(key["to"] as String? ?? "")) on delete \(key["on_delete"] as String)"
                    )
                }
            }
            // The statements themselves carry CHECK constraints, WITHOUT ROWID and every index's columns and filter.
            for row in try Row.fetchAll(
                db, sql: "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND sql IS NOT NULL ORDER BY type, name")
            {
                let sql = (row["sql"] as String).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(
                    separator: " ")
                lines.append("\(row["type"] as String) \(row["name"] as String): \(sql)")
            }
            return lines.joined(separator: "\n") + "\n"
        }
        try compare(schema, with: "schema-sqlite.txt")
    }

    @Test(
        "PostgreSQL: a migrated database has exactly the schema in Fixtures/schema-postgres.txt",
        .enabled(if: TestPostgres.serverURL != nil)
    )
    func postgres() async throws {
        let url = try await TestPostgres.freshDatabase()
        try await PostgresStore.withStore(try PostgresLocation(url: url)) { _ in }
        let columns = try await TestPostgres.psql(
            url,
            """
            SELECT 'table ' || table_name || ' column ' || column_name || ' ' || data_type
                || CASE WHEN is_nullable = 'NO' THEN ' NOT NULL' ELSE '' END || coalesce(' DEFAULT ' || column_default, '')
            FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position
            """
        )
        let constraints = try await TestPostgres.psql(
            url,
            """
            SELECT 'constraint ' || c.conrelid::regclass || ' ' || c.conname || ': ' || pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
            ORDER BY c.conrelid::regclass::text, c.conname
            """
        )
        let indexes = try await TestPostgres.psql(
            url,
            "SELECT 'index ' || tablename || ' ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname"
        )
        try compare([columns, constraints, indexes].joined(separator: "\n") + "\n", with: "schema-postgres.txt")
    }
}
