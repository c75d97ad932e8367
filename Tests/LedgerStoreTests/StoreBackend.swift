import Foundation
import LedgerConnect
import LedgerCore
import LedgerPostgres
import LedgerSQLite
import Testing

/// A backend the conformance suite runs against. Each call to `make` gives a fresh, empty store.
struct StoreBackend: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> any TrackingStore

    var testDescription: String { name }

    /// SQLite always; PostgreSQL whenever `RUNLEDGER_TEST_POSTGRES_URL` names a server (`scripts/test` always sets it).
    static let all: [StoreBackend] = [sqlite] + (TestPostgres.serverURL == nil ? [] : [postgres])

    static let sqlite = StoreBackend(name: "SQLite") {
        try await SQLiteStore.open(path: temporaryPath("store.sqlite"))
    }

    static let postgres = StoreBackend(name: "PostgreSQL") {
        try await PostgresStore.open(try PostgresLocation(url: try TestPostgres.freshDatabase()))
    }
}

/// The test server named by `RUNLEDGER_TEST_POSTGRES_URL`, and fresh databases on it.
enum TestPostgres {
    static let serverURL: String? = ProcessInfo.processInfo.environment["RUNLEDGER_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// Creates an empty database on the test server and returns its URL.
    static func freshDatabase() throws -> String {
        guard let serverURL else { throw LedgerError(.invalidState, "RUNLEDGER_TEST_POSTGRES_URL is not set") }
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try psql(serverURL, "CREATE DATABASE \(name)")
        var location = try PostgresLocation(url: serverURL)
        location.database = String(name)
        return "postgres://\(location.username)@\(location.host):\(location.port)/\(name)"
    }

    /// Runs one SQL command through `psql` and returns its unaligned output.
    @discardableResult
    static func psql(_ url: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw LedgerError(.internal, "psql failed: \(text)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A fresh path in a new temporary folder.
func temporaryPath(_ name: String) -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent(name).path
}

/// Throws unless `body` throws a ``LedgerError`` with `code` whose message contains `fragment`.
func expectLedgerError(
    _ code: LedgerError.Code, _ fragment: String = "", sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected \(code) error, got success", sourceLocation: sourceLocation)
    } catch let error as LedgerError {
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        #expect(fragment.isEmpty || error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected LedgerError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
