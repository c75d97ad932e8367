import Foundation
import Hummingbird

/// The Results Explorer: static HTML, CSS and JavaScript modules shipped as package resources, read once at start-up.
/// App paths (`/`, `/experiments/…`) answer with the page, so that a link to any view opens it; the page reads the
/// API like any other client. They hold no data and need no token (they are registered outside the token groups).
struct DashboardRoutes: Sendable {
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
        let etag: String
    }

    let assets: [String: Asset]

    init() {
        var assets: [String: Asset] = [:]
        let types = [
            "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml",
        ]
        if let folder = Bundle.module.url(forResource: "dashboard", withExtension: nil),
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        {
            for name in names {
                guard let type = types[(name as NSString).pathExtension],
                    let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path)
                else {
                    continue
                }
                let bytes = [UInt8](data)
                // FNV-1a: the tag only has to change when the file does.
                let hash = bytes.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
                assets[name] = Asset(bytes: bytes, contentType: type, etag: "\"\(String(hash, radix: 16))\"")
            }
        }
        self.assets = assets
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        let page: @Sendable (Request, Context) async throws -> Response = { request, _ in try respond(request, "index.html") }
        router.get("/", use: page)
        router.get("/experiments", use: page)
        router.get("/experiments/**", use: page)
        router.get("/ui/:name") { request, context in try respond(request, context.parameters.require("name")) }
    }

    private func respond(_ request: Request, _ name: String) throws -> Response {
        guard let asset = assets[name] else {
            throw APIError(.notFound, "RESOURCE_DOES_NOT_EXIST", "No dashboard file '\(name.prefix(100))'.")
        }
        var headers = HTTPFields()
        headers[.eTag] = asset.etag
        // Revalidated every time: a new server version must never run against an old cached script.
        headers[.cacheControl] = "no-cache"
        if request.headers[.ifNoneMatch] == asset.etag { return Response(status: .notModified, headers: headers) }
        headers[.contentType] = asset.contentType
        headers[.init("Content-Security-Policy")!] =
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        headers[.init("X-Frame-Options")!] = "DENY"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
