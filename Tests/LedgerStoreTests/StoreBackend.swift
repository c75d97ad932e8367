import Foundation
import LedgerConnect
import LedgerCore
import LedgerSQLite
import Testing

/// A backend the conformance suite runs against. Each call to `make` gives a fresh, empty store.
struct StoreBackend: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> any TrackingStore

    var testDescription: String { name }

    /// SQLite always; further backends join when their test database is configured.
    static let all: [StoreBackend] = [sqlite]

    static let sqlite = StoreBackend(name: "SQLite") {
        try await SQLiteStore.open(path: temporaryPath("store.sqlite"))
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
