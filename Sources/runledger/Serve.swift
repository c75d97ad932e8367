import ArgumentParser
import Foundation
import LedgerArtifacts
import LedgerConnect
import LedgerCore
import LedgerServer
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

extension RunLedgerCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the tracking server: MLflow's REST API, /health, /ready and /metrics.",
            discussion: """
                MLflow clients talk to it unchanged: MLFLOW_TRACKING_URI=http://127.0.0.1:5000. SIGTERM or SIGINT stops \
                accepting connections, finishes the requests in flight, closes the database and exits 0. With \
                --auth-token-file, every route except /health and the dashboard's static files needs 'Authorization: Bearer \
                TOKEN'; the file holds lines 'TOKEN read' or 'TOKEN write' and must be readable by its owner only (chmod 600).

                Browsers: the server answers only the Host names in --allowed-hosts (default: localhost, 127.0.0.1, ::1 \
                and --host; with --host 0.0.0.0 also private-range IP addresses), and refuses writes from pages of other \
                origins unless --cors-allowed-origins lists them. docs/security.md has the threat model and every limit.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var artifactOptions: ArtifactOptions
        @Option(help: "The address to listen on (0.0.0.0 for every interface).") var host = "127.0.0.1"
        @Option(help: "The TCP port (0 picks a free one; the chosen port is printed).") var port = 5000
        @Option(help: ArgumentHelp("A file of lines 'TOKEN read|write'; without it, no authentication.", valueName: "file"))
        var authTokenFile: String?
        @Option(help: "The largest request body accepted, e.g. 16MiB, 512KiB, 1000000.") var maxBody = "16MiB"
        @Option(help: "The largest artifact file accepted in one upload, e.g. 10GiB, 500MiB.") var maxArtifactSize = "10GiB"
        @Option(
            help: ArgumentHelp(
                "Comma-separated Host names the server answers (name, name:port, *.example.com, 192.168.*, or * for any).", valueName: "hosts"
            )
        )
        var allowedHosts: String?
        @Option(
            help: ArgumentHelp(
                "Comma-separated browser origins allowed to call the API besides the server's own (https://app.example.com).", valueName: "origins")
        )
        var corsAllowedOrigins: String?
        @Option(help: "Connections served at once; more wait in the listen queue.") var maxConnections = 512
        @Option(help: "Close a connection idle for this long (30s, 2m).") var idleTimeout = "75s"
        @Option(help: "Refuse a request whose body has not arrived within this time (30s, 2m).") var bodyTimeout = "60s"
        @Option(help: "Mark RUNNING runs KILLED when their heartbeat is older than this (90s, 5m, 2h; 0 turns it off).")
        var reapAfter = "5m"
        @Option(help: "Apply the retention policies this often, in bounded batches (90s, 10m, 1h; 0 turns it off).")
        var pruneEvery = "10m"

        func validate() throws {
            guard (0...65535).contains(port) else { throw ValidationError("Please give --port between 0 and 65535.") }
            guard parseByteSize(maxBody) != nil else { throw ValidationError("Please give --max-body as bytes or with KiB, MiB or GiB, e.g. 16MiB.") }
            guard parseByteSize(maxArtifactSize) != nil else {
                throw ValidationError("Please give --max-artifact-size as bytes or with KiB, MiB or GiB, e.g. 10GiB.")
            }
            guard maxConnections >= 1 else { throw ValidationError("Please give --max-connections of at least 1.") }
            for (name, text) in [("--idle-timeout", idleTimeout), ("--body-timeout", bodyTimeout)] {
                guard let milliseconds = try? DurationText.milliseconds(text), milliseconds >= 1000 else {
                    throw ValidationError("Please give \(name) as a number with s, m or h of at least one second, e.g. 60s.")
                }
            }
            guard (try? DurationText.milliseconds(reapAfter)) != nil else {
                throw ValidationError("Please give --reap-after as a number with s, m, h or d (e.g. 5m), or 0 to turn reaping off.")
            }
            guard (try? DurationText.milliseconds(pruneEvery)) != nil else {
                throw ValidationError("Please give --prune-every as a number with s, m, h or d (e.g. 10m), or 0 to turn periodic pruning off.")
            }
        }

        func run() async throws {
            var logger = Logger(label: "runledger.server")
            logger.logLevel = ProcessInfo.processInfo.environment["RUNLEDGER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            try await reportingErrors {
                let tokens = try authTokenFile.map(Self.readTokens)
                let registry = PrometheusCollectorRegistry()
                MetricsSystem.bootstrap(LedgerServer.metricsFactory(registry: registry))
                let location = try database.location
                let list = { (text: String?) in
                    text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
                }
                let origins = list(corsAllowedOrigins) ?? []
                let policy =
                    list(allowedHosts).map { OriginPolicy(allowedHosts: $0, corsAllowedOrigins: origins) }
                    ?? .standard(boundTo: host, corsAllowedOrigins: origins)
                let configuration = ServerConfiguration(
                    host: host, port: port, maxBodyBytes: parseByteSize(maxBody) ?? (16 << 20), accessTokens: tokens, originPolicy: policy,
                    bodyReadTimeout: .milliseconds(try DurationText.milliseconds(bodyTimeout)),
                    idleTimeout: .milliseconds(try DurationText.milliseconds(idleTimeout)),
                    maxConnections: maxConnections, maxArtifactBytes: Int64(parseByteSize(maxArtifactSize) ?? (10 << 30))
                )
                let artifacts = FileSystemArtifactStore(root: artifactOptions.folder(for: location))
                let banner: @Sendable (Int) -> String = { [host, auth = tokens == nil ? "off" : "bearer tokens"] port in
                    "RunLedger serving http://\(host):\(port) (database: \(location), artifacts: \(artifacts.rootPath), auth: \(auth))\n"
                }
                // Zero turns either off.
                let reapTimeout = try DurationText.milliseconds(reapAfter)
                let pruneInterval = try DurationText.milliseconds(pruneEvery)
                let options = ConnectOptions(migrate: true, create: true, logger: logger)
                let store = try await LedgerConnect.open(location, options: options)
                let app = LedgerServer.application(
                    store: store, artifacts: artifacts, configuration: configuration, registry: registry, logger: logger
                ) { port in
                    // Unbuffered, so that a supervisor or test reading the pipe learns the port at once.
                    FileHandle.standardOutput.write(Data(banner(port).utf8))
                }
                var services: [any Service] = [app]
                if reapTimeout > 0 { services.append(HeartbeatReaper(store: store, timeout: .milliseconds(reapTimeout), logger: logger)) }
                if pruneInterval > 0 { services.append(RetentionPruner(store: store, interval: .milliseconds(pruneInterval), logger: logger)) }
                // The store goes first so that it stops last; the rest start once the store is prepared.
                let prepared = PreparedServices(services) {
                    try await LedgerConnect.prepare(store, location, options: options)
                    do {
                        try await artifacts.prepare()
                    } catch {
                        throw LedgerError(
                            .invalidParameterValue, "Cannot use \(artifacts.rootPath) for artifacts (\(error)); pass --artifacts-destination.")
                    }
                }
                var group = ServiceGroupConfiguration(
                    services: [StoreService(store: store), prepared], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
                )
                // In-flight requests get 10 s after SIGTERM, then are cancelled: the process ends within 15 s.
                group.maximumGracefulShutdownDuration = .seconds(10)
                group.maximumCancellationDuration = .seconds(3)
                try await ServiceGroup(configuration: group).run()
                logger.info("stopped")
            }
        }
    }
}

extension RunLedgerCommand.Serve {
    /// The token file's tokens; a file that others may read is refused, as ssh refuses a private key.
    static func readTokens(_ path: String) throws -> AccessTokens {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let text = try? String(contentsOfFile: path, encoding: .utf8)
        else {
            throw LedgerError(.invalidParameterValue, "Cannot read the token file \(path).")
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw LedgerError(
                .invalidParameterValue,
                "The token file \(path) may be read by other users (mode \(String(mode & 0o777, radix: 8))): run 'chmod 600 \(path)' and start again."
            )
        }
        return try AccessTokens(parsing: text)
    }
}

/// `16MiB`, `512KiB`, `1GiB`, `1000000` as bytes.
func parseByteSize(_ text: String) -> Int? {
    let units: [(String, Int)] = [
        ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("B", 1),
    ]
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        guard let number = Int(text.dropLast(suffix.count)), number > 0, number <= Int.max / factor else { return nil }
        return number * factor
    }
    guard let number = Int(text), number > 0 else { return nil }
    return number
}
