public import Hummingbird
import HummingbirdCore
public import LedgerArtifacts
public import LedgerCore
public import Logging
public import Prometheus

/// The RunLedger server: MLflow's REST API, operations routes and authentication over one ``TrackingStore``.
///
/// ```swift
/// let app = LedgerServer.application(store: store, configuration: ServerConfiguration(port: 5000), registry: registry)
/// try await app.runService()
/// ```
public enum LedgerServer {
    /// The router with every route and middleware; tests drive it in-process with `app.test(.router)`.
    public static func router(
        store: any TrackingStore, artifacts: (any ArtifactStore)? = nil, configuration: ServerConfiguration,
        registry: PrometheusCollectorRegistry, clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let mlflow = MLflowRoutes(store: store, clock: clock, bodyLimits: configuration.bodyLimits)
        // Metrics first, so that it sees the status the error middleware chose; the origin guard before the error
        // middleware, so that the CORS headers it adds reach error responses too.
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: OriginGuardMiddleware(policy: configuration.originPolicy))
        router.add(middleware: ErrorMiddleware())
        // The scope a request needs is decided by the route it matched, never by its path text: each route is
        // registered in the group of its scope, and a group's middleware runs only for the routes it holds.
        let reading = router.group()
        let writing = router.group()
        if let tokens = configuration.accessTokens {
            reading.add(middleware: AuthMiddleware(tokens: tokens, needed: .read))
            writing.add(middleware: AuthMiddleware(tokens: tokens, needed: .write))
        }
        mlflow.register(reading: reading, writing: writing)
        StateRoutes(store: store, bodyLimits: configuration.bodyLimits).register(reading: reading, writing: writing)
        ArtifactRoutes(
            artifacts: artifacts, store: store, maxArtifactBytes: configuration.maxArtifactBytes, readTimeout: configuration.bodyReadTimeout
        ).register(reading: reading, writing: writing)
        OperationsRoutes(store: store, registry: registry).register(open: router, reading: reading)
        DashboardRoutes().register(on: router)
        let openAPI = OpenAPIDocument.document(mlflow: mlflow.routes).description
        reading.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: openAPI)))
        }
        return router
    }

    /// The swift-metrics backend for a server process: Prometheus, with Hummingbird's request counters given the
    /// conventional names (`hb.requests` → `http_server_requests_total`, `hb.request.errors` →
    /// `http_server_request_errors_total`) so dashboards built for other HTTP servers work unchanged.
    public static func metricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        let renamed = ["hb.requests": "http_server_requests_total", "hb.request.errors": "http_server_request_errors_total"]
        factory.nameAndLabelSanitizer = { name, labels in (renamed[name] ?? name, labels) }
        return factory
    }

    /// An application ready to run as a service: it stops accepting on SIGTERM/SIGINT and finishes in-flight requests.
    public static func application(
        store: any TrackingStore, artifacts: (any ArtifactStore)? = nil, configuration: ServerConfiguration, registry: PrometheusCollectorRegistry,
        logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(store: store, artifacts: artifacts, configuration: configuration, registry: registry),
            server: .http1(configuration: HTTP1Channel.Configuration(idleTimeout: .seconds(configuration.idleTimeout.components.seconds))),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "RunLedger",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)
            ),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }
}
