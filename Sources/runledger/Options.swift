import ArgumentParser
import Foundation
import LedgerArtifacts
import LedgerConnect
import LedgerCore
import LedgerRemote
import Logging

/// `--database`, shared by every command that opens a store.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The RunLedger database: a SQLite file path, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or a RunLedger "
                + "server's http://HOST:PORT (token in $RUNLEDGER_TOKEN) (default: $RUNLEDGER_DATABASE, else ./runledger.sqlite).",
            valueName: "path-or-url"
        )
    )
    var database: String?

    var location: DatabaseLocation {
        get throws {
            try DatabaseLocation(database ?? ProcessInfo.processInfo.environment["RUNLEDGER_DATABASE"] ?? "runledger.sqlite")
        }
    }

    /// Runs `body` on an existing database opened read-only; a missing file is an error rather than a new empty database.
    func reading<T: Sendable>(_ body: (any TrackingStore) async throws -> T) async throws -> T {
        try await using(ConnectOptions(migrate: true, create: false, readOnly: true, token: serverToken, logger: cliLogger()), body)
    }

    /// Runs `body` on the database, creating and migrating it when needed.
    func writing<T: Sendable>(_ body: (any TrackingStore) async throws -> T) async throws -> T {
        try await using(ConnectOptions(migrate: true, create: true, token: serverToken, logger: cliLogger()), body)
    }

    /// The bearer token for a RunLedger server (`--database http://…` started with `--auth-token-file`).
    var serverToken: String? { ProcessInfo.processInfo.environment["RUNLEDGER_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } }

    private func using<T: Sendable>(_ options: ConnectOptions, _ body: (any TrackingStore) async throws -> T) async throws -> T {
        try await LedgerConnect.withStore(location, options: options, body)
    }
}

/// Where artifact files live, for `serve`, `artifacts` and `gc` on a SQLite or PostgreSQL database.
struct ArtifactOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The folder artifact files are kept in; any mounted path, shared by every server of one PostgreSQL database "
                + "(default: $RUNLEDGER_ARTIFACTS, else runledger-artifacts beside a SQLite file, else ./runledger-artifacts).",
            valueName: "path"
        )
    )
    var artifactsDestination: String?

    /// The folder for `location`'s artifacts.
    func folder(for location: DatabaseLocation) -> String {
        if let artifactsDestination { return artifactsDestination }
        if let variable = ProcessInfo.processInfo.environment["RUNLEDGER_ARTIFACTS"], !variable.isEmpty { return variable }
        return defaultArtifactFolder(location) ?? "runledger-artifacts"
    }

    /// The artifact store for `location`: its folder for a SQLite or PostgreSQL database, the server's artifact API
    /// for a server URL.
    func store(for location: DatabaseLocation, token: String?) throws -> any ArtifactStore {
        switch location {
        case .server(let url): try RemoteArtifactStore(url: url, token: token)
        default: FileSystemArtifactStore(root: folder(for: location))
        }
    }
}

/// How a command prints its result.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

func cliLogger() -> Logger {
    var logger = Logger(label: "runledger")
    logger.logLevel = ProcessInfo.processInfo.environment["RUNLEDGER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return logger
}

/// Runs a command body and turns RunLedger errors into one line on stderr and exit code 2.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as LedgerError {
        printError(error.message)
        throw ExitCode(2)
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
}

func writeStandardError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// Resolves an experiment by name, or by id when the text is a number that names no experiment.
func resolveExperiment(_ text: String, in store: any TrackingStore) async throws -> Experiment {
    if let experiment = try await store.experiment(named: text) { return experiment }
    if let id = ExperimentID(text), let experiment = try? await store.experiment(id: id) { return experiment }
    return try await store.requireExperiment(named: text)
}
