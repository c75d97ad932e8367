import Hummingbird
import LedgerCore
import Prometheus

/// `/health`, `/ready` and `/metrics`: what an orchestrator and a Prometheus scraper ask.
struct OperationsRoutes: Sendable {
    let store: any TrackingStore
    let registry: PrometheusCollectorRegistry

    /// `/health` on `open` (no token); `/ready` and `/metrics` on `reading`.
    func register<Context: RequestContext>(open router: Router<Context>, reading: RouterGroup<Context>) {
        router.get("/health") { _, _ in Response.json(.object([("status", .string("ok"))])) }
        reading.get("/ready") { _, context -> Response in
            if let problem = await store.healthCheck() {
                context.logger.warning("not ready", metadata: ["error": "\(problem.message)", "request_id": "\(context.id)"])
                let message = APIError.publicMessage(problem.code, requestID: context.id)
                return Response.json(
                    .object([("status", .string("unavailable")), ("error_code", .string(problem.code.description)), ("message", .string(message))]),
                    status: .serviceUnavailable
                )
            }
            return Response.json(.object([("status", .string("ready"))]))
        }
        reading.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
