import ArgumentParser
import Foundation
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
                --auth-token-file, every route except /health needs 'Authorization: Bearer TOKEN'; the file holds lines \
                'TOKEN read' or 'TOKEN write'.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The address to listen on (0.0.0.0 for every interface).") var host = "127.0.0.1"
        @Option(help: "The TCP port (0 picks a free one; the chosen port is printed).") var port = 5000
        @Option(help: ArgumentHelp("A file of lines 'TOKEN read|write'; without it, no authentication.", valueName: "file"))
        var authTokenFile: String?
        @Option(help: "The largest request body accepted, e.g. 16MiB, 512KiB, 1000000.") var maxBody = "16MiB"
        @Option(help: "Mark RUNNING runs KILLED when their heartbeat is older than this (90s, 5m, 2h; 0 turns it off).")
        var reapAfter = "5m"
        @Option(help: "Apply the retention policies this often, in bounded batches (90s, 10m, 1h; 0 turns it off).")
        var pruneEvery = "10m"

        func validate() throws {
            guard (0...65535).contains(port) else { throw ValidationError("Please give --port between 0 and 65535.") }
            guard parseByteSize(maxBody) != nil else { throw ValidationError("Please give --max-body as bytes or with KiB, MiB or GiB, e.g. 16MiB.") }
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
                var tokens: AccessTokens?
                if let authTokenFile {
                    guard let text = try? String(contentsOfFile: authTokenFile, encoding: .utf8) else {
                        throw LedgerError(.invalidParameterValue, "Cannot read the token file \(authTokenFile).")
                    }
                    tokens = try AccessTokens(parsing: text)
                }
                let registry = PrometheusCollectorRegistry()
                MetricsSystem.bootstrap(LedgerServer.metricsFactory(registry: registry))
                let location = try database.location
                let store = try await LedgerConnect.open(location, options: ConnectOptions(migrate: true, create: true, logger: logger))
                let configuration = ServerConfiguration(host: host, port: port, maxBodyBytes: parseByteSize(maxBody)!, accessTokens: tokens)
                let banner: @Sendable (Int) -> String = { [host, auth = tokens == nil ? "off" : "bearer tokens"] port in
                    "RunLedger serving http://\(host):\(port) (database: \(location), auth: \(auth))\n"
                }
                let app = LedgerServer.application(store: store, configuration: configuration, registry: registry, logger: logger) { port in
                    // Unbuffered, so that a supervisor or test reading the pipe learns the port at once.
                    FileHandle.standardOutput.write(Data(banner(port).utf8))
                }
                var services: [any Service] = [app]
                // Zero turns either off.
                let reapTimeout = try DurationText.milliseconds(reapAfter), pruneInterval = try DurationText.milliseconds(pruneEvery)
                if reapTimeout > 0 { services.append(HeartbeatReaper(store: store, timeout: .milliseconds(reapTimeout), logger: logger)) }
                if pruneInterval > 0 { services.append(RetentionPruner(store: store, interval: .milliseconds(pruneInterval), logger: logger)) }
                let group = ServiceGroup(
                    configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
                )
                do {
                    try await group.run()
                } catch {
                    try? await store.close()
                    throw error
                }
                try await store.close()
                logger.info("stopped")
            }
        }
    }
}

/// `16MiB`, `512KiB`, `1GiB`, `1000000` as bytes.
func parseByteSize(_ text: String) -> Int? {
    let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("B", 1)]
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        guard let number = Int(text.dropLast(suffix.count)), number > 0, number <= Int.max / factor else { return nil }
        return number * factor
    }
    guard let number = Int(text), number > 0 else { return nil }
    return number
}
