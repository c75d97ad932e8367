import Foundation
import Hummingbird
import HummingbirdTesting
import LedgerArtifacts
import LedgerCore
import Testing

@testable import LedgerServer

@Suite("Artifacts: MLflow's proxied artifact routes over the file-system store")
struct ArtifactTests {
    static let base = "/api/2.0/mlflow-artifacts/artifacts"

    /// The artifact routes as (method, path, writes) for the token and cross-site matrices.
    static let routes: [(HTTPRequest.Method, String, Bool)] = [
        (.put, "\(base)/x.txt", true), (.get, "\(base)/x.txt", false), (.head, "\(base)/x.txt", false),
        (.delete, "\(base)/x.txt", true), (.get, base, false), (.post, "/api/2.0/mlflow-artifacts/mpu/create/x", true),
    ]

    static func members(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let values)? = value { return values }
        return []
    }

    static func describe(_ entry: JSONValue) -> String {
        let isDirectory = entry["is_dir"] == .bool(true)
        return "\(entry["path"]?.text ?? "?") \(isDirectory) \(entry["file_size"]?.int64 ?? -1)"
    }

    static func put(_ client: some TestClientProtocol, _ path: String, _ bytes: [UInt8], headers: HTTPFields = [:]) async throws -> RawResponse {
        try await client.execute(uri: "\(base)/\(path)", method: .put, headers: headers, body: ByteBuffer(bytes: bytes)) { response in
            RawResponse(status: response.status, headers: response.headers, body: Array(buffer: response.body))
        }
    }

    @Test("a file goes up and comes back byte for byte, whole, as a byte range, and as HEAD with its length")
    func roundTrip() async throws {
        let server = try await TestServer()
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        try await server.test { client in
            #expect(try await Self.put(client, "1/abc/artifacts/out/data.bin", bytes).status == .ok)
            let whole = try await client.send(.get, "\(Self.base)/1/abc/artifacts/out/data.bin")
            #expect(whole.status == .ok)
            #expect(whole.body == bytes)
            #expect(whole.headers[.contentLength] == String(bytes.count))
            #expect(whole.headers[.acceptRanges] == "bytes")

            let part = try await client.send(.get, "\(Self.base)/1/abc/artifacts/out/data.bin", headers: [.range: "bytes=1000-1999"])
            #expect(part.status == .partialContent)
            #expect(part.body == Array(bytes[1000..<2000]))
            #expect(part.headers[.contentRange] == "bytes 1000-1999/\(bytes.count)")
            let suffix = try await client.send(.get, "\(Self.base)/1/abc/artifacts/out/data.bin", headers: [.range: "bytes=-10"])
            #expect(suffix.body == Array(bytes.suffix(10)))
            let beyond = try await client.send(.get, "\(Self.base)/1/abc/artifacts/out/data.bin", headers: [.range: "bytes=400000-"])
            #expect(beyond.status == .rangeNotSatisfiable)
            #expect(beyond.headers[.contentRange] == "bytes */\(bytes.count)")

            let head = try await client.send(.head, "\(Self.base)/1/abc/artifacts/out/data.bin")
            #expect(head.status == .ok)
            #expect(head.headers[.contentLength] == String(bytes.count))
            #expect(head.body.isEmpty)
        }
    }

    @Test("downloads are served as attachments unless they are images or text, never sniffed, under a sandbox policy")
    func downloadHeaders() async throws {
        let server = try await TestServer()
        try await server.test { client in
            _ = try await Self.put(client, "page.html", Array("<script>alert(1)</script>".utf8))
            _ = try await Self.put(client, "notes.txt", Array("hello".utf8))
            let page = try await client.send(.get, "\(Self.base)/page.html")
            #expect(page.headers[.contentType] != "text/html")
            #expect(page.headers[.contentDisposition]?.hasPrefix("attachment") == true)
            #expect(page.headers[.xContentTypeOptions] == "nosniff")
            #expect(page.headers[.contentSecurityPolicy]?.contains("sandbox") == true)
            let text = try await client.send(.get, "\(Self.base)/notes.txt")
            #expect(text.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(text.headers[.contentDisposition] == nil)
        }
    }

    @Test("the listing shows files with sizes and folders, without the upload folder; a deleted file is gone")
    func listingAndDelete() async throws {
        let server = try await TestServer()
        try await server.test { client in
            _ = try await Self.put(client, "7/r1/artifacts/a.txt", Array("aaaa".utf8))
            _ = try await Self.put(client, "7/r1/artifacts/plots/p.png", [1, 2, 3])
            let (status, listing) = try await client.call(.get, "\(Self.base)?path=7/r1/artifacts")
            #expect(status == .ok)
            #expect(Self.members(listing["files"]).map(Self.describe).sorted() == ["a.txt false 4", "plots true -1"])
            let (_, root) = try await client.call(.get, Self.base)
            #expect(!Self.members(root["files"]).contains { $0["path"]?.text == ".runledger-uploads" })

            #expect(try await client.send(.delete, "\(Self.base)/7/r1/artifacts/a.txt").status == .ok)
            #expect(try await client.send(.get, "\(Self.base)/7/r1/artifacts/a.txt").status == .notFound)
            #expect(try await client.send(.delete, Self.base).status != .ok)
        }
    }

    @Test("the tracking API's artifacts/list lists a run's files relative to its artifact root")
    func runListing() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let (_, created) = try await client.call(.post, "/api/2.0/mlflow/runs/create", #"{"experiment_id":"0","start_time":1}"#)
            let info = created["run"]?["info"]
            let runID = info?["run_id"]?.text ?? ""
            let uri = info?["artifact_uri"]?.text ?? ""
            #expect(uri == "mlflow-artifacts:/0/\(runID)/artifacts")
            _ = try await Self.put(client, "0/\(runID)/artifacts/results/cost.csv", Array("a,b\n".utf8))
            let (_, top) = try await client.call(.get, "/api/2.0/mlflow/artifacts/list?run_id=\(runID)")
            #expect(top["root_uri"]?.text == uri)
            #expect(Self.members(top["files"]).map { $0["path"]?.text } == ["results"])
            let (_, inner) = try await client.call(.get, "/api/2.0/mlflow/artifacts/list?run_id=\(runID)&path=results")
            #expect(Self.members(inner["files"]).map { $0["path"]?.text } == ["results/cost.csv"])
            let (missing, _) = try await client.call(.get, "/api/2.0/mlflow/artifacts/list?run_id=\(runID)&path=../x")
            #expect(missing == .badRequest)
        }
    }

    @Test("an upload over the size limit is refused with 413 whether or not it declares its length, and nothing of it is kept")
    func tooLarge() async throws {
        let server = try await TestServer()
        var configuration = ServerConfiguration()
        configuration.maxArtifactBytes = 1000
        try await server.test(configuration) { client in
            let declared = try await Self.put(client, "big.bin", Array(repeating: 1, count: 5000), headers: [.contentLength: "5000"])
            #expect(declared.status == .contentTooLarge)
            #expect(declared.errorCode == "REQUEST_TOO_LARGE")
            let streamed = try await Self.put(client, "big.bin", Array(repeating: 1, count: 5000))
            #expect(streamed.status == .contentTooLarge)
            #expect(try await client.send(.get, "\(Self.base)/big.bin").status == .notFound)
            #expect(try await Self.put(client, "small.bin", Array(repeating: 1, count: 1000)).status == .ok)
            let uploads = try FileManager.default.contentsOfDirectory(atPath: server.artifacts.rootPath + "/.runledger-uploads")
            #expect(uploads.isEmpty)
        }
    }

    @Test("hostile paths are refused after decoding: parent folders, encoded slashes, NUL, backslashes, the upload folder")
    func hostilePaths() async throws {
        let server = try await TestServer()
        try await server.test { client in
            for path in ["a/../../x", "%2e%2e/x", "a%2F..%2F..%2Fx", "x%00y", "a%5C..%5Cx", ".runledger-uploads/x", "a//b", "%zz"] {
                let response = try await Self.put(client, path, [1])
                #expect(response.status == .badRequest, "PUT \(path)")
                #expect(response.errorCode == "INVALID_PARAMETER_VALUE", "PUT \(path)")
                #expect(try await client.send(.get, "\(Self.base)/\(path)").status == .badRequest, "GET \(path)")
            }
            #expect(try await client.call(.get, "\(Self.base)?path=../..").0 == .badRequest)
        }
    }

    @Test("a link inside the artifact root is not followed, for reading or for writing")
    func links() async throws {
        let server = try await TestServer()
        let outside = server.folder.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try Data("secret".utf8).write(to: outside.appendingPathComponent("secret.txt"))
        try FileManager.default.createSymbolicLink(atPath: server.artifacts.rootPath + "/link", withDestinationPath: outside.path)
        try await server.test { client in
            let read = try await client.send(.get, "\(Self.base)/link/secret.txt")
            #expect(read.status == .badRequest)
            #expect(!String(decoding: read.body, as: UTF8.self).contains("secret\""))
            #expect(try await Self.put(client, "link/planted.txt", [1]).status == .badRequest)
            #expect(!FileManager.default.fileExists(atPath: outside.appendingPathComponent("planted.txt").path))
            #expect(try await client.call(.get, "\(Self.base)?path=link").0 == .badRequest)
        }
    }

    @Test("a full disk answers 507, keeps nothing of the upload, and the store works again once space is freed")
    func diskFull() async throws {
        guard getuid() == 0 else { return }  // mounting a small tmpfs needs root, as in CI
        let server = try await TestServer()
        let mountPoint = server.artifacts.rootPath
        guard mountTmpfs(at: mountPoint, size: "1m") else { return }
        defer { _ = run("/bin/umount", [mountPoint]) }
        let artifacts = FileSystemArtifactStore(root: mountPoint)
        try await artifacts.prepare()
        let app = Application(
            router: LedgerServer.router(store: server.store, artifacts: artifacts, configuration: ServerConfiguration(), registry: server.registry))
        try await app.test(.router) { client in
            let full = try await Self.put(client, "huge.bin", Array(repeating: 7, count: 3 << 20))
            #expect(full.status.code == 507)
            #expect(full.errorCode == "RESOURCE_EXHAUSTED")
            #expect(try await client.send(.get, "\(Self.base)/huge.bin").status == .notFound)
            #expect(try FileManager.default.contentsOfDirectory(atPath: mountPoint + "/.runledger-uploads").isEmpty)
            #expect(try await Self.put(client, "fits.bin", Array(repeating: 7, count: 100_000)).status == .ok)
            #expect(try await client.send(.get, "\(Self.base)/fits.bin").body.count == 100_000)
        }
        try await server.store.close()
    }

    @Test("starting removes uploads left unfinished an hour ago, and keeps one another server may be receiving now")
    func staleUploads() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-uploads-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let uploads = folder.appendingPathComponent(".runledger-uploads")
        try FileManager.default.createDirectory(at: uploads, withIntermediateDirectories: true)
        let stale = uploads.appendingPathComponent("stale")
        let live = uploads.appendingPathComponent("live")
        try Data("old".utf8).write(to: stale)
        try Data("new".utf8).write(to: live)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: stale.path)
        try await FileSystemArtifactStore(root: folder.path).prepare()
        #expect(try FileManager.default.contentsOfDirectory(atPath: uploads.path) == ["live"])
    }

    private func mountTmpfs(at path: String, size: String) -> Bool {
        run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path]) == 0
    }

    private func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
