import Foundation
import Hummingbird
import HummingbirdTesting
import LedgerCore
import LedgerExport
import Testing

@testable import LedgerServer

extension TestClientProtocol {
    /// Sends exactly these headers and body, nothing added.
    func send(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: String? = nil) async throws -> RawResponse {
        try await execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            RawResponse(status: response.status, headers: response.headers, body: Array(buffer: response.body))
        }
    }
}

extension RawResponse {
    var errorCode: String? {
        guard let json = try? JSONValue(parsing: body), case .string(let code)? = json["error_code"] else { return nil }
        return code
    }
}

@Suite("Hardening: scopes from the matched route")
struct RouteScopeTests {
    static let readToken = "read-token-0123456789", writeToken = "write-token-0123456789"

    /// Every spelling of a path that a client might send: the path itself and variants that a router might or might
    /// not resolve to the same route.
    static func spellings(_ path: String) -> [(String, Bool)] {
        let lastCharacter = path.unicodeScalars.last.map { String(format: "%%%02X", $0.value) } ?? ""
        return [
            (path, true), (path + "/", false), ("/" + path, false), (path.replacingOccurrences(of: "/2.0/", with: "/2.0//"), false),
            (path.replacingOccurrences(of: "/2.0/", with: "/2.0/./"), false), (path.replacingOccurrences(of: "/2.0/", with: "/2.0/x/../"), false),
            (String(path.dropLast()) + lastCharacter, false), (path.uppercased(), false), (path + "?run_id=x", false),
        ]
    }

    @Test("every route x {no token, read, write, malformed Authorization} x path spelling: only a write token reaches a writing handler")
    func matrix() async throws {
        let tokens = try AccessTokens(parsing: "\(Self.readToken) read\n\(Self.writeToken) write\n")
        let server = try await TestServer()
        let mlflow = MLflowRoutes(store: server.store, clock: { 0 }, bodyLimits: BodyLimits(maxBytes: 1 << 20, readTimeout: .seconds(60))).routes
        let routes =
            mlflow.flatMap { route in route.prefixes.map { (route.method, $0 + route.path, route.writes) } } + [
                (HTTPRequest.Method.get, "/ready", false), (.get, "/metrics", false), (.get, "/openapi.json", false),
                (HTTPRequest.Method.get, "/api/2.0/runledger/projects/p/state/s", false), (.put, "/api/2.0/runledger/projects/p/state/s", true),
            ] + ArtifactTests.routes
        let authorizations: [(String?, String)] = [
            (nil, "none"), ("Bearer \(Self.readToken)", "read"), ("Bearer \(Self.writeToken)", "write"), ("Bearer", "malformed"),
            ("Basic \(Self.writeToken)", "malformed"), ("Bearer \(Self.writeToken)x", "malformed"), ("bearer\(Self.writeToken)", "malformed"),
        ]
        try await server.test(ServerConfiguration(accessTokens: tokens)) { client in
            for (method, path, writes) in routes {
                for (spelled, mustRoute) in Self.spellings(path) {
                    for (authorization, kind) in authorizations {
                        var headers = HTTPFields()
                        if let authorization { headers[.authorization] = authorization }
                        var body: String?
                        if method != .get {
                            headers[.contentType] = "application/json"
                            body = "{}"
                        }
                        let response = try await client.send(method, spelled, headers: headers, body: body)
                        let routed = response.errorCode != "ENDPOINT_NOT_FOUND"
                        let context = "\(method) \(spelled) with \(kind): \(response.status) \(response.text.prefix(200))"
                        if mustRoute { #expect(routed, "\(context)") }
                        guard routed else { continue }
                        switch kind {
                        case "none", "malformed": #expect(response.status == .unauthorized, "\(context)")
                        case "read" where writes: #expect(response.status == .forbidden && response.errorCode == "PERMISSION_DENIED", "\(context)")
                        default: #expect(response.status != .unauthorized && response.status != .forbidden, "\(context)")
                        }
                    }
                }
            }
            // Open paths stay open.
            #expect(try await client.send(.get, "/health").status == .ok)
            #expect(try await client.send(.get, "/").status == .ok)
            #expect(try await client.send(.get, "/ui/app.js").status == .ok)
        }
    }
}

@Suite("Hardening: cross-site requests and content types")
struct CrossSiteTests {
    static func writingRoutes(_ server: TestServer) -> [(HTTPRequest.Method, String)] {
        MLflowRoutes(store: server.store, clock: { 0 }, bodyLimits: BodyLimits(maxBytes: 1 << 20, readTimeout: .seconds(60))).routes
            .filter(\.writes).map { ($0.method, $0.prefixes[0] + $0.path) } + [(.put, "/api/2.0/runledger/projects/p/state/s")]
    }

    @Test("a foreign page's writes are refused on every writing route: by Origin, by Sec-Fetch-Site, as a form or as text/plain")
    func foreignWrites() async throws {
        let server = try await TestServer()
        try await server.test { client in
            for (method, path) in Self.writingRoutes(server) {
                let foreign = try await client.send(
                    method, path, headers: [.origin: "https://evil.example", .contentType: "application/json"], body: #"{"name":"x"}"#
                )
                #expect(foreign.status == .forbidden && foreign.errorCode == "CROSS_ORIGIN_REQUEST_REFUSED", "\(path): \(foreign.text)")
                let nullOrigin = try await client.send(method, path, headers: [.origin: "null", .contentType: "application/json"], body: "{}")
                #expect(nullOrigin.status == .forbidden, "\(path)")
                let fetchSite = try await client.send(
                    method, path, headers: [.secFetchSite: "cross-site", .contentType: "application/json"], body: "{}")
                #expect(fetchSite.status == .forbidden, "\(path)")
                for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain; charset=utf-8"] {
                    let simple = try await client.send(method, path, headers: [.contentType: type], body: #"{"name":"x","experiment_id":"0"}"#)
                    #expect(simple.status == .unsupportedMediaType && simple.errorCode == "UNSUPPORTED_MEDIA_TYPE", "\(path) as \(type)")
                }
                let untyped = try await client.send(method, path, body: #"{"name":"x"}"#)
                #expect(untyped.status == .unsupportedMediaType, "\(path) without a type")
            }
            // Artifact bodies are files of any type, so only the origin checks apply; a browser preflights PUT and DELETE.
            for (method, path, _) in ArtifactTests.routes.filter(\.2) {
                let foreign = try await client.send(method, path, headers: [.origin: "https://evil.example"], body: "planted")
                #expect(foreign.status == .forbidden && foreign.errorCode == "CROSS_ORIGIN_REQUEST_REFUSED", "\(path)")
                let fetchSite = try await client.send(method, path, headers: [.secFetchSite: "cross-site"], body: "planted")
                #expect(fetchSite.status == .forbidden, "\(path)")
            }
            #expect(try await client.send(.get, "\(ArtifactTests.base)/x.txt").status == .notFound)
            #expect(try await server.store.experiments(view: .all).map(\.experiment.name) == ["Default"])
            // The page's own origin, and clients that send no Origin, still write.
            let own = try await client.send(
                .post, "/api/2.0/mlflow/experiments/create", headers: [.origin: "http://localhost", .contentType: "application/json; charset=utf-8"],
                body: #"{"name":"mine"}"#
            )
            #expect(own.status == .ok, "\(own.text)")
            let script = try await client.send(
                .post, "/api/2.0/mlflow/experiments/create", headers: [.contentType: "application/json"], body: #"{"name":"script"}"#)
            #expect(script.status == .ok)
            // Reads from a foreign page are answered without CORS headers, so the browser keeps them from the page.
            let read = try await client.send(.get, "/api/2.0/mlflow/experiments/search?max_results=5", headers: [.origin: "https://evil.example"])
            #expect(read.status == .ok && read.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test("a listed origin gets CORS headers and answers to its preflight; an unlisted one gets neither")
    func listedOrigin() async throws {
        let server = try await TestServer()
        let policy = OriginPolicy.standard(boundTo: "127.0.0.1", corsAllowedOrigins: ["https://app.example.com"])
        try await server.test(ServerConfiguration(originPolicy: policy)) { client in
            let preflight = try await client.send(
                .options, "/api/2.0/mlflow/experiments/create", headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"]
            )
            #expect(preflight.status == .noContent && preflight.headers[.accessControlAllowOrigin] == "https://app.example.com")
            let write = try await client.send(
                .post, "/api/2.0/mlflow/experiments/create", headers: [.origin: "https://app.example.com", .contentType: "application/json"],
                body: #"{"name":"from-app"}"#
            )
            #expect(write.status == .ok && write.headers[.accessControlAllowOrigin] == "https://app.example.com")
            let failed = try await client.send(
                .post, "/api/2.0/mlflow/experiments/create", headers: [.origin: "https://app.example.com", .contentType: "application/json"],
                body: "{}"
            )
            #expect(failed.status == .badRequest && failed.headers[.accessControlAllowOrigin] == "https://app.example.com")
            let other = try await client.send(
                .options, "/api/2.0/mlflow/experiments/create", headers: [.origin: "https://other.example.com", .accessControlRequestMethod: "POST"]
            )
            #expect(other.status == .forbidden && other.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test("Host patterns: loopback names and the bound address by default, private addresses only on a wildcard bind, globs and ports")
    func hostPolicy() {
        let local = OriginPolicy.standard(boundTo: "127.0.0.1")
        for host in ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000", "LOCALHOST:80", "localhost."] {
            #expect(local.allowsHost(host), "\(host)")
        }
        for host in [
            "evil.example", "evil.example:5000", "localhost.evil.example", "192.168.1.5:5000", "", "local host", "a@localhost", "127.0.0.1.nip.io",
        ] {
            #expect(!local.allowsHost(host), "\(host)")
        }
        let wildcard = OriginPolicy.standard(boundTo: "0.0.0.0")
        for host in ["192.168.1.5:5000", "10.0.0.1", "172.20.1.1:80", "[fd00::1]:5000", "localhost"] { #expect(wildcard.allowsHost(host), "\(host)") }
        for host in ["8.8.8.8", "172.32.0.1", "evil.example", "10.0.0.1.evil.example"] { #expect(!wildcard.allowsHost(host), "\(host)") }
        let named = OriginPolicy(allowedHosts: ["*.example.com", "tracker:8443"])
        #expect(named.allowsHost("ml.example.com") && named.allowsHost("tracker:8443"))
        #expect(!named.allowsHost("tracker:5000") && !named.allowsHost("example.org") && !named.allowsHost("localhost"))
        #expect(OriginPolicy(allowedHosts: ["*"]).allowsHost("anything.at.all:1"))
        #expect(local.allowsOrigin("http://localhost:5000", authority: "localhost:5000"))
        #expect(!local.allowsOrigin("http://localhost:5001", authority: "localhost:5000"))
        #expect(!local.allowsOrigin("null", authority: "localhost:5000"))
    }

    @Test("the dashboard may not be framed by another page")
    func framing() async throws {
        try await TestServer().test { client in
            let page = try await client.send(.get, "/")
            #expect(page.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            #expect(page.headers[.init("X-Frame-Options")!] == "DENY")
        }
    }
}

@Suite("Hardening: stored edge values read back through every route")
struct EdgeValueTests {
    /// A key that starts with a combining mark: Swift's Characters merge it with the dot of `params.`.
    static let combiningKey = "\u{0345}combining"

    @Test("steps and timestamps at the Int64 limits, NaN and infinities, combining marks and formulas: no route answers 5xx")
    func edgeValues() async throws {
        let server = try await TestServer()
        let experiment = try await server.store.createExperiment(name: "edge \u{0345}", artifactLocation: nil, tags: [KeyValue("t", "=1+1")])
        let run = NewRun(experimentID: experiment.id, name: "<script>alert(1)</script>", startTime: .max)
        let other = NewRun(experimentID: experiment.id, name: "other", startTime: .min)
        let points: [(Int64, Int64, Double)] = [
            (.min, .min, .nan), (.max, .max, .infinity), (-1, 0, -.infinity), (0, 1, -0.0), (1, .max - 1, .greatestFiniteMagnitude), (.max - 1, 2, 1),
        ]
        let metrics =
            points.map { Metric(key: "edge", value: $0.2, timestamp: $0.1, step: $0.0) } + [Metric(key: "cost", value: 1, timestamp: 1, step: 0)]
        _ = try await server.store.write(
            WriteBatch([
                .createRun(run), .createRun(other), .logMetrics(run.runID, metrics),
                .logMetrics(
                    other.runID,
                    [Metric(key: "edge", value: -1, timestamp: 0, step: .min), Metric(key: "cost", value: .nan, timestamp: 0, step: .max)]),
                .logParams(run.runID, [KeyValue(Self.combiningKey, "\u{0301}value"), KeyValue("formula", "=HYPERLINK(\"x\")")]),
                .setTags(run.runID, [KeyValue(Self.combiningKey, "-2+3"), KeyValue("plus", "+cmd")]),
                .logEvents(run.runID, [RunEvent(timestamp: .max, kind: "edge", message: "\u{0345}"), RunEvent(timestamp: .min, kind: "edge")]),
            ])
        )
        let id = run.runID.rawValue
        let experimentID = experiment.id.description
        let encodedKey = "%CD%85combining"
        let gets = [
            "/api/2.0/mlflow/runs/get?run_id=\(id)",
            "/api/2.0/mlflow/metrics/get-history?run_id=\(id)&metric_key=edge",
            "/api/2.0/runledger/metrics/get-history-bucketed?run_id=\(id)&metric_key=edge",
            "/api/2.0/runledger/metrics/get-history-bucketed?run_id=\(id)&metric_key=edge&max_buckets=1",
            "/api/2.0/runledger/metrics/get-history-bucketed?run_id=\(id)&metric_key=edge&max_buckets=3",
            "/api/2.0/runledger/metrics/get-history-bucketed?run_id=\(id)&metric_key=edge&max_buckets=2&min_step=-9223372036854775808&max_step=9223372036854775807",
            "/api/2.0/runledger/metrics/window?run_id=\(id)&metric_keys=edge&metric_keys=cost",
            "/api/2.0/runledger/metrics/window?experiment_id=\(experimentID)&metric_keys=edge&start_time=-9223372036854775808&end_time=9223372036854775807",
            "/api/2.0/runledger/runs/events?run_id=\(id)",
            "/api/2.0/runledger/runs/export?experiment_ids=\(experimentID)",
            "/api/2.0/runledger/runs/export?experiment_ids=\(experimentID)&format=xlsx",
            "/api/2.0/runledger/runs/export?experiment_ids=\(experimentID)&columns=params.\(encodedKey)&columns=tags.\(encodedKey)&columns=metrics.edge",
            "/api/2.0/runledger/experiments/list?view_type=ALL",
            "/api/2.0/mlflow/experiments/search?max_results=10",
        ]
        let posts = [
            (
                "/api/2.0/mlflow/runs/search",
                #"{"experiment_ids":["\#(experimentID)"],"order_by":["metrics.edge DESC","params.`\#(Self.combiningKey)`"]}"#
            ),
            (
                "/api/2.0/mlflow/runs/search",
                #"{"experiment_ids":["\#(experimentID)"],"filter":"metrics.edge > -1e308 and params.`\#(Self.combiningKey)` LIKE '%'"}"#
            ),
            ("/api/2.0/mlflow/runs/search", #"{"experiment_ids":["\#(experimentID)"],"order_by":["attributes.start_time ASC"]}"#),
            (
                "/api/2.0/runledger/runs/statistics",
                #"{"experiment_ids":["\#(experimentID)"],"metric":"edge","group_by":"params.\#(Self.combiningKey)"}"#
            ),
            ("/api/2.0/runledger/runs/statistics", #"{"experiment_ids":["\#(experimentID)"],"metric":"cost"}"#),
            (
                "/api/2.0/runledger/runs/pareto",
                #"{"experiment_ids":["\#(experimentID)"],"objectives":[{"metric":"edge","goal":"minimize"},{"metric":"cost","goal":"maximize"}]}"#
            ),
            (
                "/api/2.0/runledger/runs/pareto",
                #"{"experiment_ids":["\#(experimentID)"],"objectives":[{"metric":"edge","goal":"minimize"},{"metric":"cost","goal":"maximize"},{"metric":"edge","goal":"maximize"}]}"#
            ),
            ("/api/2.0/runledger/runs/export", #"{"experiment_ids":["\#(experimentID)"],"columns":["params.\#(Self.combiningKey)","run_name"]}"#),
        ]
        try await server.test { client in
            for path in gets {
                let response = try await client.send(.get, path)
                #expect(response.status == .ok, "\(path): \(response.status) \(response.text.prefix(300))")
            }
            for (path, body) in posts {
                let response = try await client.send(.post, path, headers: [.contentType: "application/json"], body: body)
                #expect(response.status == .ok, "\(path) \(body): \(response.status) \(response.text.prefix(300))")
            }
            // The history in pages of one point, each after the last: every point once, in MLflow's order (timestamp, then
            // step), extremes included.
            var steps: [JSONValue] = []
            var token: String? = nil
            repeat {
                let page = try await client.send(
                    .get, "/api/2.0/mlflow/metrics/get-history?run_id=\(id)&metric_key=edge&max_results=1" + (token.map { "&page_token=\($0)" } ?? "")
                )
                #expect(page.status == .ok, "\(page.text)")
                let json = try JSONValue(parsing: page.body)
                if case .array(let points)? = json["metrics"] { steps += points.compactMap { $0["step"] } }
                token = string(json["next_page_token"])
            } while token != nil && steps.count <= points.count
            #expect(steps == points.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map { JSONValue.integer($0.0) })
            let csv = try await client.send(.get, "/api/2.0/runledger/runs/export?experiment_ids=\(experimentID)").text
            #expect(csv.contains("params.\(Self.combiningKey)") && csv.contains("\u{0301}value"))
            #expect(
                csv.contains("\"'=HYPERLINK(\"\"x\"\")\"") && csv.contains("'+cmd") && csv.contains("'-2+3") && !csv.contains(",=")
                    && !csv.contains(",+"))
            let oneBucket = "/api/2.0/runledger/metrics/get-history-bucketed?run_id=\(id)&metric_key=edge&max_buckets=1"
            let buckets = try JSONValue(parsing: try await client.send(.get, oneBucket).body)
            guard case .array(let list)? = buckets["buckets"] else {
                Issue.record("no buckets")
                return
            }
            #expect(list.count == 1 && list.first?["count"] == .integer(6) && list.first?["first_step"] == .integer(.min))
        }
    }

    @Test("downsampling a history that spans the whole Int64 range keeps every point in order, in at most K buckets")
    func downsampleExtremes() {
        let steps: [Int64] = [.min, .min + 1, -1, 0, 1, .max - 1, .max]
        let points = steps.enumerated().map { MetricPoint(value: Double($0.offset), timestamp: 0, step: $0.element) }
        for maximum in 1...8 {
            let buckets = HistoryBucket.downsample(points, maximum: maximum)
            #expect(buckets.count <= maximum && buckets.map(\.count).reduce(0, +) == points.count, "K=\(maximum)")
            #expect(buckets.map(\.firstStep) == buckets.map(\.firstStep).sorted())
            #expect(buckets.last?.lastStep == .max && buckets.first?.firstStep == .min)
        }
    }
}

@Suite("Hardening: NUL, leaks and spreadsheets")
struct InputRuleTests {
    @Test("U+0000 in a name, key or value is the caller's error naming the field, through the API and the store")
    func nul() async throws {
        let server = try await TestServer()
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        _ = try await server.store.write(WriteBatch([.createRun(run)]))
        try await server.test { client in
            let cases = [
                ("/api/2.0/mlflow/experiments/create", #"{"name":"a\u0000b"}"#, "name"),
                ("/api/2.0/mlflow/runs/log-parameter", #"{"run_id":"\#(run.runID)","key":"k","value":"a\u0000b"}"#, "value"),
                ("/api/2.0/mlflow/runs/set-tag", #"{"run_id":"\#(run.runID)","key":"k","value":"\u0000"}"#, "value"),
                ("/api/2.0/mlflow/runs/log-batch", #"{"run_id":"\#(run.runID)","params":[{"key":"p","value":"x\u0000"}]}"#, "value"),
                ("/api/2.0/mlflow/runs/search", #"{"experiment_ids":["0"],"filter":"params.p = 'a\u0000'"}"#, "filter"),
            ]
            for (path, body, field) in cases {
                let response = try await client.send(.post, path, headers: [.contentType: "application/json"], body: body)
                #expect(response.status == .badRequest && response.errorCode == "INVALID_PARAMETER_VALUE", "\(path): \(response.text)")
                #expect(response.text.contains(field) && response.text.contains("U+0000"), "\(path): \(response.text)")
            }
            let byName = try await client.send(.get, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=a%00b")
            #expect(byName.status == .badRequest && byName.text.contains("experiment_name"), "\(byName.text)")
            // The store refuses it too (the SDK writes without the server), and the whole batch with it.
            await #expect(throws: LedgerError.self) {
                _ = try await server.store.write(WriteBatch([.logParams(run.runID, [KeyValue("p", "a\u{0}b")])]))
            }
            await #expect(throws: LedgerError.self) { _ = try await server.store.createExperiment(name: "x\u{0}", artifactLocation: nil, tags: []) }
            await #expect(throws: LedgerError.self) {
                _ = try await server.store.write(
                    WriteBatch([.setTags(run.runID, [KeyValue("t", "\u{0}")]), .logParams(run.runID, [KeyValue("ok", "1")])]))
            }
            #expect(try await server.store.run(run.runID).params.isEmpty)
        }
    }

    @Test("a store failure answers with its code and the request id, never the driver's text or a path; /ready likewise")
    func noLeaks() async throws {
        let secret = "SQLSTATE 22021: invalid byte sequence near /var/lib/runledger/secret.sqlite"
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.get("/internal") { _, _ -> Response in throw LedgerError(.internal, secret) }
        router.get("/unavailable") { _, _ -> Response in throw LedgerError(.storeUnavailable, secret) }
        router.get("/schema") { _, _ -> Response in throw LedgerError(.schemaPending, secret) }
        router.get("/bug") { _, _ -> Response in throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "/var/lib/runledger/secret.sqlite"])
        }
        try await Application(router: router).test(.router) { client in
            for (path, code) in [
                ("/internal", "INTERNAL_ERROR"), ("/unavailable", "TEMPORARILY_UNAVAILABLE"), ("/schema", "SCHEMA_PENDING"),
                ("/bug", "INTERNAL_ERROR"),
            ] {
                let response = try await client.send(.get, path)
                #expect(response.status.code >= 500 && response.errorCode == code, "\(path): \(response.text)")
                #expect(
                    !response.text.contains("secret") && !response.text.contains("22021") && response.text.contains("request"),
                    "\(path): \(response.text)")
            }
        }
        let server = try await TestServer()
        try await server.test { client in
            try await server.store.close()
            let ready = try await client.send(.get, "/ready")
            #expect(
                ready.status == .serviceUnavailable && !ready.text.contains(server.folder.path) && ready.text.contains("request"), "\(ready.text)")
        }
    }

    @Test("CSV cells that a spreadsheet would run as formulas get a quote; numbers stay numbers")
    func csvInjection() {
        for (text, expected) in [
            ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "\"'\rx\""),
            ("-1.5", "-1.5"), ("+3", "+3"), ("-Infinity", "-Infinity"), ("plain", "plain"), ("=a,b", "\"'=a,b\""),
        ] {
            #expect(CSV.field(text) == expected, "\(text)")
        }
    }
}
