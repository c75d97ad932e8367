import Foundation
import Hummingbird
import LedgerArtifacts
import LedgerCore

/// MLflow's proxied artifact API (`/api/2.0/mlflow-artifacts/artifacts/<path>`: PUT, GET, DELETE, and the listing
/// `GET …/artifacts?path=`) and the tracking API's `artifacts/list` over an ``ArtifactStore``.
///
/// Bodies stream: an upload goes to the store chunk by chunk (never through the JSON body limit, but under its own
/// `maxArtifactBytes`), a download is read from disk as it is sent, with `Content-Length` and single byte ranges.
struct ArtifactRoutes: Sendable {
    /// nil: the server was started without an artifact destination; the routes say so.
    let artifacts: (any ArtifactStore)?
    let store: any TrackingStore
    let maxArtifactBytes: Int64
    let readTimeout: Duration

    static let prefixes = ["/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts"]
    /// An upload may take `readTimeout` plus one second per this many bytes: a slow link finishes, a trickle does not.
    static let minimumUploadRate: Int64 = 64 << 10

    func register<Context: RequestContext>(reading: RouterGroup<Context>, writing: RouterGroup<Context>) {
        for prefix in Self.prefixes {
            writing.put(RouterPath(prefix + "/**")) { request, _ in try await upload(request, prefix: prefix) }
            reading.get(RouterPath(prefix + "/**")) { request, _ in try await download(request, prefix: prefix) }
            reading.head(RouterPath(prefix + "/**")) { request, _ in try await download(request, prefix: prefix) }
            writing.delete(RouterPath(prefix + "/**")) { request, _ in try await delete(request, prefix: prefix) }
            reading.get(RouterPath(prefix)) { request, _ in try await listing(request) }
        }
        for prefix in ["/api/2.0/mlflow-artifacts/mpu", "/ajax-api/2.0/mlflow-artifacts/mpu"] {
            // MLflow's client uploads in parts only when the server says it can (`/api/3.0/mlflow/server-info`); a
            // file-system store cannot, and says so as MLflow's own file-system server does.
            writing.post(RouterPath(prefix + "/**")) { _, _ -> Response in
                throw APIError(.notImplemented, "NOT_IMPLEMENTED", "Multipart upload is not supported for the current artifact repository")
            }
        }
        for root in ["/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"] {
            reading.get(RouterPath(root + "server-info")) { _, _ in Response.json(Self.serverInfo) }
        }
        for prefix in MLflowRoutes.prefixes {
            reading.get(RouterPath(prefix + "artifacts/list")) { request, _ in try await runListing(request) }
            reading.get(RouterPath(prefix + "logged-models/:model_id/artifacts/directories")) { request, context in
                try await modelListing(request, modelID: context.parameters.get("model_id") ?? "")
            }
        }
    }

    // MARK: Handlers

    private func upload(_ request: Request, prefix: String) async throws -> Response {
        let artifacts = try configured()
        let path = try Self.path(of: request, below: prefix)
        if let length = request.headers[.contentLength].flatMap(Int64.init), length > maxArtifactBytes {
            throw Self.tooLarge(maxArtifactBytes)
        }
        do {
            _ = try await artifacts.write(path, from: PacedBody(body: request.body, timeout: readTimeout), maxBytes: maxArtifactBytes)
        } catch ArtifactStoreError.tooLarge(let limit) {
            throw Self.tooLarge(limit)
        } catch ArtifactStoreError.noSpace {
            throw APIError(
                HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), "RESOURCE_EXHAUSTED",
                "The server's artifact disk is full; nothing of this upload was kept. Retry when space is freed.")
        }
        return Response.json(.object([]))
    }

    private func download(_ request: Request, prefix: String) async throws -> Response {
        let artifacts = try configured()
        let path = try Self.path(of: request, below: prefix)
        guard let entry = try await artifacts.entry(at: path), !entry.isDirectory, let size = entry.size else {
            throw APIError(.notFound, "RESOURCE_DOES_NOT_EXIST", "No artifact file '\(String(describing: path).prefix(300))'.")
        }
        var headers = Self.fileHeaders(name: path.name)
        headers[.acceptRanges] = "bytes"
        var status = HTTPResponse.Status.ok
        var range: Range<Int64> = 0..<size
        if let header = request.headers[.range] {
            switch ByteRange.parse(header, size: size) {
            case .whole: break
            case .part(let part):
                range = part
                status = .partialContent
                headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound - 1)/\(size)"
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
        }
        let sent = range
        headers[.contentLength] = String(sent.count)
        if request.method == .head { return Response(status: status, headers: headers) }
        let body = ResponseBody(contentLength: sent.count) { writer in
            try await artifacts.read(path, range: sent) { chunk in try await writer.write(chunk) }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    private func delete(_ request: Request, prefix: String) async throws -> Response {
        try await configured().delete(try Self.path(of: request, below: prefix))
        return Response.json(.object([]))
    }

    private func listing(_ request: Request) async throws -> Response {
        let artifacts = try configured()
        let path = try ArtifactPath(validating: try Self.formValue("path", in: request) ?? "")
        let files = try await artifacts.list(path)
        return Response.json(.object([("files", .array(files.map(Self.json)))]))
    }

    /// The tracking API's listing: a run's artifacts below `path`, with paths relative to the run's root.
    private func runListing(_ request: Request) async throws -> Response {
        let parameters = request.uri.queryParameters
        let text = String(parameters["run_id"] ?? parameters["run_uuid"] ?? "")
        guard let runID = RunID(text) else { throw APIError.missing("run_id") }
        let run = try await store.run(runID)
        return try await listing(root: run.info.artifactURI, within: try Self.formValue("path", in: request) ?? "")
    }

    /// A logged model's files below `artifact_directory_path`, relative to the model's artifact location.
    private func modelListing(_ request: Request, modelID: String) async throws -> Response {
        let model = try await store.loggedModel(id: modelID, allowDeleted: false)
        return try await listing(root: model.artifactURI, within: try Self.formValue("artifact_directory_path", in: request) ?? "")
    }

    private func listing(root uri: String, within path: String) async throws -> Response {
        let within = try ArtifactPath(validating: path)
        var members: [(String, JSONValue)] = [("root_uri", .string(uri))]
        if let artifacts, let root = ArtifactPath(location: uri) {
            let files = try await artifacts.list(root.appending(within)).map { entry in
                ArtifactEntry(path: within.isRoot ? entry.path : "\(within)/\(entry.path)", isDirectory: entry.isDirectory, size: entry.size)
            }
            if !files.isEmpty { members.append(("files", .array(files.map(Self.json)))) }
        }
        return Response.json(.object(members))
    }

    // MARK: Helpers

    /// What MLflow 3's client asks before uploading: whole-file uploads only, no workspaces, no trace archival.
    static let serverInfo = JSONValue.object([
        ("store_type", .string("SqlStore")), ("workspaces_enabled", .bool(false)), ("trace_archival_enabled", .bool(false)),
        ("multipart_uploads_enabled", .bool(false)), ("multipart_downloads_enabled", .bool(false)),
        ("presigned_upload_run_id_supported", .bool(false)), ("presigned_upload_model_id_supported", .bool(false)),
        ("features_enabled", .object([("gateway", .bool(false))])),
    ])

    private func configured() throws -> any ArtifactStore {
        guard let artifacts else {
            throw APIError(
                .serviceUnavailable, "ENDPOINT_NOT_FOUND",
                "This server does not store artifacts; start it with --artifacts-destination PATH (the default beside a SQLite file).")
        }
        return artifacts
    }

    /// The artifact path of a request, percent-decoded and validated; the raw path is used so that an encoded `/` or
    /// `.` is checked as what it decodes to.
    static func path(of request: Request, below prefix: String) throws -> ArtifactPath {
        let raw = request.uri.path
        guard raw.hasPrefix(prefix + "/") else { throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "No artifact path in the URL.") }
        return try ArtifactPath(percentEncoded: String(raw.dropFirst(prefix.count + 1)))
    }

    /// A query-string value decoded as a form encodes it (`+` is a space), which is how MLflow's client sends paths
    /// with spaces; the raw query is read so that an encoded `+` stays a plus.
    static func formValue(_ name: String, in request: Request) throws -> String? {
        guard let query = request.uri.query else { return nil }
        var found: String?
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.first == Substring(name) else { continue }
            let raw = parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ") : ""
            guard let decoded = raw.removingPercentEncoding else {
                throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "The '\(name)' parameter has a malformed '%' escape.")
            }
            found = decoded
        }
        return found
    }

    static func json(_ entry: ArtifactEntry) -> JSONValue {
        var members: [(String, JSONValue)] = [("path", .string(entry.path)), ("is_dir", .bool(entry.isDirectory))]
        if let size = entry.size { members.append(("file_size", .integer(size))) }
        return .object(members)
    }

    static func tooLarge(_ limit: Int64) -> APIError {
        APIError(
            .contentTooLarge, "REQUEST_TOO_LARGE",
            "The artifact is larger than this server's limit of \(limit) bytes (--max-artifact-size); nothing of it was kept.")
    }

    /// Headers that let a browser show what is safe to show (images, plain text) and download the rest: nothing an
    /// artifact holds runs as a page of the server's origin.
    static func fileHeaders(name: String) -> HTTPFields {
        var headers = HTTPFields()
        let type = ArtifactMediaType(name: name)
        headers[.contentType] = type.contentType
        if !type.inline {
            headers[.contentDisposition] = "attachment; filename=\"\(name.filter { $0.isASCII && $0 != "\"" && $0 != "\\" && !$0.isNewline })\""
        }
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers[.contentSecurityPolicy] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
        return headers
    }
}

/// What an artifact is sent as, from its name: images and text inline, everything else (HTML and SVG included) as a
/// download.
struct ArtifactMediaType: Equatable {
    let contentType: String
    let inline: Bool

    init(name: String) {
        let suffix = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch suffix {
        case "png": (contentType, inline) = ("image/png", true)
        case "jpg", "jpeg": (contentType, inline) = ("image/jpeg", true)
        case "gif": (contentType, inline) = ("image/gif", true)
        case "txt", "log", "json", "yaml", "yml", "csv", "tsv", "md", "py", "toml", "ini", "cfg", "mlmodel", "xml":
            (contentType, inline) = ("text/plain; charset=utf-8", true)
        default: (contentType, inline) = ("application/octet-stream", false)
        }
    }
}

/// A `Range` header's meaning for a file of `size` bytes: one range, the whole file (absent, malformed or several
/// ranges, which a server may answer whole), or nothing satisfiable (416).
enum ByteRange: Equatable {
    case whole
    case part(Range<Int64>)
    case unsatisfiable

    static func parse(_ header: String, size: Int64) -> ByteRange {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .whole }
        let (first, last) = (Int64(parts[0]), Int64(parts[1]))
        switch (parts[0].isEmpty, parts[1].isEmpty) {
        case (true, false):
            // The last N bytes.
            guard let suffix = last, suffix > 0 else { return .unsatisfiable }
            return size == 0 ? .unsatisfiable : .part(max(0, size - suffix)..<size)
        case (false, _):
            guard let start = first, start >= 0 else { return .whole }
            guard start < size else { return .unsatisfiable }
            if parts[1].isEmpty { return .part(start..<size) }
            guard let end = last, end >= start else { return .whole }
            return .part(start..<(min(end, size - 1) + 1))
        default: return .whole
        }
    }
}

/// A request body whose bytes must keep coming: past `timeout` plus one second per ``ArtifactRoutes/minimumUploadRate``
/// bytes received, the upload fails with 408 (a client trickling a byte a minute cannot hold a connection forever).
struct PacedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let body: RequestBody
    let timeout: Duration

    struct AsyncIterator: AsyncIteratorProtocol {
        var inner: RequestBody.AsyncIterator
        let start = ContinuousClock.now
        let timeout: Duration
        var received: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await inner.next() else { return nil }
            received += Int64(chunk.readableBytes)
            let allowed = timeout + .seconds(received / ArtifactRoutes.minimumUploadRate)
            guard ContinuousClock.now - start <= allowed else {
                throw APIError(
                    .requestTimeout, "REQUEST_TIMEOUT",
                    "The upload arrived too slowly (under \(ArtifactRoutes.minimumUploadRate >> 10) KiB/s after \(timeout)); nothing of it was kept.")
            }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: body.makeAsyncIterator(), timeout: timeout) }
}
