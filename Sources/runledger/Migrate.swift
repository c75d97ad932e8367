import ArgumentParser
import LedgerConnect
import LedgerCore

extension RunLedgerCommand {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect and apply schema migrations.",
            discussion: """
                RunLedger's schema is versioned by numbered SQL files shipped in the binary; the history lives in the \
                runledger_schema_history table. A SQLite database is migrated automatically when opened; these commands \
                show and check that state.
                """,
            subcommands: [Status.self, Up.self, Validate.self]
        )

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show every migration and whether it is applied. Changes nothing.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "table, or json: an array of {version, name, checksum, applied_at (null when pending), state}.") var format: OutputFormat = .table

            func run() async throws {
                try await reportingErrors { printMigrations(try await LedgerConnect.migrationStatus(try database.location), format: format) }
            }
        }

        struct Up: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Apply pending migrations, each in its own transaction.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "table or json.") var format: OutputFormat = .table

            func run() async throws {
                try await reportingErrors { printMigrations(try await LedgerConnect.migrateUp(try database.location, logger: cliLogger()), format: format) }
            }
        }

        struct Validate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check applied migrations against this binary's files (edited files, duplicates, newer schema). Changes nothing."
            )
            @OptionGroup var database: DatabaseOptions
            @Option(help: "table or json.") var format: OutputFormat = .table

            func run() async throws {
                try await reportingErrors {
                    let rows = try await LedgerConnect.validateMigrations(try database.location)
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
        print(JSONValue.array(rows.map { row in
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
