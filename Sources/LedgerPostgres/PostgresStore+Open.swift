import Foundation
public import LedgerCore
public import Logging
import NIOSSL
import PostgresNIO

/// How to open a PostgreSQL store. The defaults suit a tracking server beside its database.
public struct PostgresOptions: Sendable {
    /// Apply pending migrations on open (under the advisory lock); otherwise a pending schema is refused.
    public var migrate: Bool = true
    /// Open every transaction read-only (`default_transaction_read_only`), so that the database cannot change.
    public var readOnly: Bool = false
    public var logger: Logger = Logger(label: "runledger.postgres")
    /// Milliseconds since the epoch; tests pass a fixed clock.
    public var clock: @Sendable () -> Int64 = WallClock.milliseconds
    /// The pool's upper bound on connections.
    public var maximumConnections: Int = 10
    /// How long opening a TCP connection may take.
    public var connectTimeout: Duration = .seconds(5)
    /// How long an operation waits for a free pooled connection before failing as unavailable.
    public var acquireTimeout: Duration = .seconds(10)
    /// The server cancels any statement running longer (`statement_timeout`).
    public var statementTimeout: Duration = .seconds(60)
    /// Attempts per operation for transient failures (1 = no retry).
    public var retryAttempts: Int = 4
    /// The first retry waits up to this long; each further one up to twice as long (full jitter).
    public var retryBaseDelay: Duration = .milliseconds(100)

    public init() {}
}

extension PostgresStore {
    /// A store for the database at `location`; nothing connects until ``run()`` runs. Most callers use
    /// ``withStore(_:options:_:)``, which runs the pool and migrates (or checks) the schema first.
    public init(_ location: PostgresLocation, options: PostgresOptions = PostgresOptions()) throws {
        self.init(gate: try Self.makeGate(location, options: options), migrator: try PostgresMigrator())
    }

    /// Runs the connection pool until ``close()`` or until its task is cancelled (in a `ServiceGroup`, or
    /// ``withStore(_:options:_:)``).
    public func run() async throws { await gate.run() }

    /// Migrates the schema (or, when migration is off or the store read-only, checks that it is current).
    /// - Throws: ``LedgerError/Code/storeUnavailable`` when the server cannot be reached within the acquire timeout;
    ///   ``LedgerError/Code/schemaPending`` when migrations are pending and `options.migrate` is false;
    ///   ``LedgerError/Code/migrationConflict`` or ``LedgerError/Code/schemaTooNew`` as the migration plan decides.
    public func prepare() async throws {
        let (migrator, options) = (migrator, gate.options)
        try await gate.run { connection in
            if options.migrate && !options.readOnly {
                try await migrator.migrate(connection, logger: options.logger, clock: options.clock)
            } else if let next = try await migrator.plan(connection, logger: options.logger).pending.first {
                throw LedgerError(
                    .schemaPending, "The database's schema is not current: migration \(next.filename) is pending. Run `runledger migrate up` first."
                )
            } else if try await migrator.hasLegacyHistory(connection, logger: options.logger) {
                throw LedgerError(.schemaPending, "The database holds metric history still to be converted. Run `runledger migrate up` first.")
            }
        }
        if options.migrate && !options.readOnly { try await gate.convertLegacyHistory(migrator) }
    }

    /// Runs `body` with a prepared store whose pool runs beside it in a child task; the pool closes when `body` returns.
    ///
    /// ```swift
    /// try await PostgresStore.withStore(try PostgresLocation(url: url)) { store in try await store.experiments(view: .all) }
    /// ```
    public static func withStore<T: Sendable>(
        _ location: PostgresLocation, options: PostgresOptions = PostgresOptions(), _ body: (PostgresStore) async throws -> T
    ) async throws -> T {
        let store = try PostgresStore(location, options: options)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            defer { store.gate.close() }
            try await store.prepare()
            return try await body(store)
        }
    }

    /// Runs `body` with a migrator connection and closes it after; for `migrate status|up|validate`.
    public static func withMigrations<T: Sendable>(
        _ location: PostgresLocation, files: [MigrationFile]?, options: PostgresOptions = PostgresOptions(),
        _ body: @escaping @Sendable (PostgresMigrations) async throws -> T
    ) async throws -> T {
        let gate = try makeGate(location, options: options)
        let migrator = try PostgresMigrator(files: files, table: files == nil ? .ledger : .user)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await gate.run() }
            defer { gate.close() }
            return try await body(PostgresMigrations(gate: gate, migrator: migrator, clock: options.clock))
        }
    }

    static func makeGate(_ location: PostgresLocation, options: PostgresOptions) throws -> PostgresGate {
        let tls: PostgresClient.Configuration.TLS
        switch location.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: tls
        )
        let applicationName = "runledger-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        configuration.options.connectTimeout = options.connectTimeout
        configuration.options.maximumConnections = max(1, options.maximumConnections)
        let statementMilliseconds =
            options.statementTimeout.components.seconds * 1000 + options.statementTimeout.components.attoseconds / 1_000_000_000_000_000
        configuration.options.additionalStartupParameters = [
            ("application_name", applicationName),
            ("statement_timeout", "\(statementMilliseconds)"),
            ("default_transaction_read_only", options.readOnly ? "on" : "off"),
        ]
        let client = PostgresClient(configuration: configuration, backgroundLogger: options.logger)
        let identity = "postgres://\(location.host):\(location.port)/\(location.database)"
        return PostgresGate(client: client, options: options, applicationName: applicationName, identity: identity)
    }
}

/// Migration commands on one database: status, validate, up.
public struct PostgresMigrations: Sendable {
    let gate: PostgresGate
    let migrator: PostgresMigrator
    let clock: @Sendable () -> Int64

    /// Every known version and its state.
    public func status() async throws -> [MigrationStatus] {
        let migrator = migrator
        return try await gate.run { try await migrator.status($0, logger: gate.logger) }
    }

    /// Refuses conflicts, edited files and newer schemas without applying anything; returns the status.
    public func validate() async throws -> [MigrationStatus] {
        let migrator = migrator
        return try await gate.run { connection in
            _ = try await migrator.plan(connection, logger: gate.logger)
            return try await migrator.status(connection, logger: gate.logger)
        }
    }

    /// Applies pending files; returns the status afterwards.
    public func up() async throws -> [MigrationStatus] {
        let migrator = migrator
        let clock = clock
        try await gate.run(idempotent: true) { connection in
            try await migrator.migrate(connection, logger: gate.logger, clock: clock)
        }
        try await gate.convertLegacyHistory(migrator)
        return try await gate.run { connection in try await migrator.status(connection, logger: gate.logger) }
    }
}

extension PostgresGate {
    /// Converts history written before chunks, a page per operation, so that no one operation outlives its deadline.
    func convertLegacyHistory(_ migrator: PostgresMigrator) async throws {
        let logger = logger
        // Checked without the migration lock first: every open comes here, and nearly every database has nothing to convert.
        guard try await run({ connection in try await migrator.hasLegacyHistory(connection, logger: logger) }) else { return }
        while try await run(idempotent: true, { connection in try await migrator.convertLegacyPage(connection, logger: logger) }) {}
    }
}
