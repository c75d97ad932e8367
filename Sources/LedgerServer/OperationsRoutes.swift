import Hummingbird
import LedgerCore
import Prometheus

/// `/health`, `/ready` and `/metrics`: what an orchestrator and a Prometheus scraper ask.
struct OperationsRoutes: Sendable {
    let store: any TrackingStore
    let registry: PrometheusCollectorRegistry

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/health") { _, _ in Response.json(.object([("status", .string("ok"))])) }
        router.get("/ready") { _, _ -> Response in
            if let problem = await store.healthCheck() {
                return Response.json(
                    .object([("status", .string("unavailable")), ("error_code", .string(problem.code.description)), ("message", .string(problem.message))]),
                    status: .serviceUnavailable
                )
            }
            return Response.json(.object([("status", .string("ready"))]))
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
