public import Hummingbird
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
        store: any TrackingStore, configuration: ServerConfiguration, registry: PrometheusCollectorRegistry,
        clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let mlflow = MLflowRoutes(store: store, clock: clock, maxBodyBytes: configuration.maxBodyBytes)
        // Metrics first, so that it sees the status the error middleware chose.
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorMiddleware())
        if let tokens = configuration.accessTokens {
            let writing = Set(
                mlflow.routes.filter(\.writes).flatMap { route in route.prefixes.map { "\(route.method) \($0)\(route.path)" } }
            )
            // PUT is only used by state documents, which it writes.
            router.add(middleware: AuthMiddleware(tokens: tokens, writes: { method, path in method == .put || writing.contains("\(method) \(path)") }))
        }
        mlflow.register(on: router)
        StateRoutes(store: store, maxBodyBytes: configuration.maxBodyBytes).register(on: router)
        OperationsRoutes(store: store, registry: registry).register(on: router)
        DashboardRoutes().register(on: router)
        let openAPI = OpenAPIDocument.document(mlflow: mlflow.routes).description
        router.get("/openapi.json") { _, _ in
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
        store: any TrackingStore, configuration: ServerConfiguration, registry: PrometheusCollectorRegistry, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(store: store, configuration: configuration, registry: registry),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "RunLedger"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }
}
