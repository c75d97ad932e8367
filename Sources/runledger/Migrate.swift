import ArgumentParser
import LedgerConnect
import LedgerCore

extension RunLedgerCommand {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect and apply schema migrations.",
            discussion: """
                RunLedger's schema is versioned by numbered SQL files shipped in the binary; the history lives in the \
                runledger_schema_history table. A database (SQLite or PostgreSQL) is migrated automatically when opened; \
                these commands show, check and apply that state. On PostgreSQL each file runs in its own transaction under \
                an advisory lock, so several processes may migrate one database at once.

                With --dir FOLDER they work on your own folder of numbered SQL files (001_name.sql, 002_other.sql, …) \
                instead, tracked in runledger_user_schema_history apart from RunLedger's own. Two files with one version, \
                or an applied file edited since, are refused before anything runs.
                """,
            subcommands: [Status.self, Up.self, Validate.self]
        )

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show every migration and whether it is applied. Changes nothing.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "table, or json: an array of {version, name, checksum, applied_at (null when pending), state}.") var format: OutputFormat =
                .table
            @Option(help: "A folder of your own numbered SQL files, instead of RunLedger's schema.") var dir: String?

            func run() async throws {
                try await reportingErrors {
                    printMigrations(try await LedgerConnect.migrationStatus(try database.location, userFolder: dir), format: format)
                }
            }
        }

        struct Up: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Apply pending migrations, each in its own transaction.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "table or json.") var format: OutputFormat = .table
            @Option(help: "A folder of your own numbered SQL files to apply (RunLedger's schema is brought up to date first).") var dir: String?

            func run() async throws {
                try await reportingErrors {
                    printMigrations(try await LedgerConnect.migrateUp(try database.location, userFolder: dir, logger: cliLogger()), format: format)
                }
            }
        }

        struct Validate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check applied migrations against this binary's files (edited files, duplicates, newer schema). Changes nothing."
            )
            @OptionGroup var database: DatabaseOptions
            @Option(help: "table or json.") var format: OutputFormat = .table
            @Option(help: "A folder of your own numbered SQL files to check, instead of RunLedger's schema.") var dir: String?

            func run() async throws {
                try await reportingErrors {
                    let rows = try await LedgerConnect.validateMigrations(try database.location, userFolder: dir)
                    printMigrations(rows, format: format)
                    if format == .table { print("Migrations are valid (\(rows.filter { $0.state == .pending }.count) pending).") }
                }
            }
        }
    }
}

private func printMigrations(_ rows: [MigrationStatus], format: OutputFormat) {
    switch format {
    case .json:
        print(
            JSONValue.array(
                rows.map { row in
                    .object([
                        ("version", .integer(Int64(row.version))), ("name", .string(row.name)), ("checksum", .string(row.checksum)),
                        ("applied_at", row.appliedAt.map { .integer($0) } ?? .null), ("state", .string(row.state.rawValue)),
                    ])
                }))
    case .csv, .table:
        var table = TextTable(headers: ["VERSION", "NAME", "STATE", "APPLIED AT", "CHECKSUM"], numericColumns: [0])
        table.rows = rows.map { [String($0.version), $0.name, $0.state.rawValue, formatTime($0.appliedAt), String($0.checksum.prefix(12))] }
        print(table.rendered, terminator: "")
    }
}
