import AsyncHTTPClient
import Foundation
public import LedgerArtifacts
public import LedgerCore
public import NIOCore
import NIOHTTP1
import Synchronization

/// The artifacts of a RunLedger (or MLflow) server, through MLflow's proxied artifact API: what `runledger artifacts`
/// uses with `--database http://…`. Bodies stream both ways; nothing is held whole in memory.
public struct RemoteArtifactStore: ArtifactStore {
    private let base: String
    private let token: String?
    private let timeout: TimeAmount

    /// The artifact store of the server at `url` (`http://HOST:PORT`), sending `token` as a bearer token.
    public init(url: String, token: String? = nil, requestTimeout: Duration = .seconds(3600)) throws(LedgerError) {
        guard RemoteStore.matches(url), URL(string: url)?.host != nil else {
            throw LedgerError(.invalidParameterValue, "Invalid server URL '\(url)': expected http://HOST[:PORT] or https://HOST[:PORT].")
        }
        self.base = (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/api/2.0/mlflow-artifacts/artifacts"
        self.token = token
        self.timeout = .seconds(requestTimeout.components.seconds)
    }

    public func write(_ path: ArtifactPath, from body: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64) async throws -> Int64 {
        let counted = CountingSequence(inner: body, maxBytes: maxBytes)
        var request = request(.PUT, path)
        request.body = .stream(counted, length: .unknown)
        let response = try await execute(request)
        _ = try await check(response, path: path)
        return counted.total.bytes.load(ordering: .relaxed)
    }

    public func entry(at path: ArtifactPath) async throws -> ArtifactEntry? {
        if path.isRoot { return ArtifactEntry(path: "", isDirectory: true, size: nil) }
        let response = try await execute(request(.HEAD, path))
        if response.status == .ok {
            return ArtifactEntry(path: path.name, isDirectory: false, size: response.headers.first(name: "Content-Length").flatMap { Int64($0) })
        }
        guard response.status == .notFound else {
            _ = try await check(response, path: path)
            return nil
        }
        return try await list(path).isEmpty ? nil : ArtifactEntry(path: path.name, isDirectory: true, size: nil)
    }

    public func read(_ path: ArtifactPath, range: Range<Int64>, into chunk: (ByteBuffer) async throws -> Void) async throws {
        guard !range.isEmpty else { return }
        var request = request(.GET, path)
        request.headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound - 1)")
        let response = try await execute(request)
        guard response.status == .ok || response.status == .partialContent else {
            _ = try await check(response, path: path)
            return
        }
        // A server that ignores ranges sends the whole file: skip to the start and stop at the end.
        var position: Int64 = response.status == .ok ? 0 : range.lowerBound
        for try await var buffer in response.body {
            let start = max(position, range.lowerBound)
            let end = min(position + Int64(buffer.readableBytes), range.upperBound)
            if start < end, let slice = buffer.getSlice(at: buffer.readerIndex + Int(start - position), length: Int(end - start)) {
                try await chunk(slice)
            }
            position += Int64(buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            if position >= range.upperBound { break }
        }
    }

    public func list(_ path: ArtifactPath) async throws -> [ArtifactEntry] {
        let json = try await check(try await execute(request(.GET, url: base + RemoteStore.queryText([("path", path.description)]))), path: path)
        guard case .array(let files)? = json["files"] else { return [] }
        return files.compactMap { file in
            guard let name = file["path"]?.text else { return nil }
            return ArtifactEntry(path: name, isDirectory: file["is_dir"] == .bool(true), size: file["file_size"]?.int64)
        }
    }

    public func delete(_ path: ArtifactPath) async throws {
        _ = try await check(try await execute(request(.DELETE, path)), path: path)
    }

    // MARK: HTTP

    private func request(_ method: HTTPMethod, _ path: ArtifactPath) -> HTTPClientRequest {
        let encoded = path.components.map {
            $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/", "?", "#", "%"])) ?? ""
        }
        return request(method, url: base + "/" + encoded.joined(separator: "/"))
    }

    private func request(_ method: HTTPMethod, url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    private func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        do {
            return try await RemoteStore.client.execute(request, timeout: timeout)
        } catch let error as ArtifactStoreError {
            throw error
        } catch let error as LedgerError {
            throw error  // the body's own refusal (a staged copy that fails its checksum), not the network's
        } catch {
            throw LedgerError(.storeUnavailable, "The server at \(base) did not answer \(request.method) for an artifact: \(error).")
        }
    }

    /// The JSON body of a successful answer; a failure as the error it stands for.
    private func check(_ response: HTTPClientResponse, path: ArtifactPath) async throws -> JSONValue {
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let json = (try? JSONValue(parsing: bytes.readableBytesView)) ?? .null
        guard response.status.code >= 300 else { return json }
        if response.status.code == 507 { throw ArtifactStoreError.noSpace }
        if response.status == .payloadTooLarge {
            throw LedgerError(.invalidParameterValue, json["message"]?.text ?? "The server refused the file as too large (HTTP 413).")
        }
        throw RemoteStore.error(status: response.status, json, path: "/" + path.description, base: base)
    }
}

/// Counts the bytes of an upload as they go and stops one past `maxBytes`.
private struct CountingSequence<Inner: AsyncSequence & Sendable>: AsyncSequence, Sendable where Inner.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let inner: Inner
    let maxBytes: Int64
    let total = Total()

    final class Total: Sendable {
        let bytes = Atomic<Int64>(0)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var inner: Inner.AsyncIterator
        let maxBytes: Int64
        let total: Total

        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await inner.next() else { return nil }
            let sent = total.bytes.add(Int64(buffer.readableBytes), ordering: .relaxed).newValue
            guard sent <= maxBytes else { throw ArtifactStoreError.tooLarge(limit: maxBytes) }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: inner.makeAsyncIterator(), maxBytes: maxBytes, total: total) }
}
