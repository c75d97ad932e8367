import EnergySimulation
import Foundation
import Hummingbird
import HummingbirdTesting
import LedgerArtifacts
import LedgerCore
import LedgerSQLite
import Logging
import Prometheus
import Testing

@testable import LedgerServer

/// A server over a fresh SQLite store in a temporary folder, driven in-process.
struct TestServer {
    let store: SQLiteStore
    let artifacts: FileSystemArtifactStore
    let folder: URL
    let registry = PrometheusCollectorRegistry()

    init() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        store = try await SQLiteStore.open(path: folder.appendingPathComponent("ledger.sqlite").path)
        artifacts = FileSystemArtifactStore(root: folder.appendingPathComponent("artifacts").path)
        try await artifacts.prepare()
    }

    func test<Value>(_ configuration: ServerConfiguration = ServerConfiguration(), _ body: @Sendable (any TestClientProtocol) async throws -> Value)
        async throws -> Value
    {
        defer { try? FileManager.default.removeItem(at: folder) }
        let app = Application(router: LedgerServer.router(store: store, artifacts: artifacts, configuration: configuration, registry: registry))
        do {
            let result = try await app.test(.router, body)
            try await store.close()
            return result
        } catch {
            try? await store.close()
            throw error
        }
    }
}

extension TestClientProtocol {
    /// Sends `body` as JSON (POST) or as the query string (GET) and returns the status and the parsed JSON body.
    func call(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, token: String? = nil) async throws -> (
        HTTPResponse.Status, JSONValue
    ) {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            let text = String(buffer: response.body)
            let json = (try? JSONValue(parsing: text.utf8)) ?? .string(text)
            return (response.status, json)
        }
    }
}

/// The value of the metric `key` in a run's `data.metrics` list (MLflow's shape), as a double or its JSON text.
func metric(_ key: String, in run: JSONValue?) -> JSONValue? {
    guard case .array(let metrics)? = run?["data"]?["metrics"] else { return nil }
    return metrics.first { $0["key"] == .string(key) }?["value"]
}

func number(_ value: JSONValue?) -> Double? {
    switch value {
    case .integer(let number)?: Double(number)
    case .number(let number)?: number
    default: nil
    }
}

func string(_ value: JSONValue?) -> String? {
    if case .string(let text)? = value { return text }
    return nil
}

@Suite("MLflow REST API, in-process")
struct MLflowAPITests {
    @Test("a run created, logged to and finished reads back in MLflow's shapes")
    func runLifecycle() async throws {
        try await TestServer().test { client in
            let (created, experiment) = try await client.call(.post, "/api/2.0/mlflow/experiments/create", #"{"name":"study"}"#)
            #expect(created == .ok)
            let experimentID = try #require(string(experiment["experiment_id"]))
            let (_, run) = try await client.call(
                .post, "/api/2.0/mlflow/runs/create", #"{"experiment_id":"\#(experimentID)","run_name":"design-1","start_time":"1000"}"#
            )
            let runID = try #require(string(run["run"]?["info"]?["run_id"]))
            #expect(run["run"]?["info"]?["run_uuid"] == .string(runID))
            #expect(run["run"]?["info"]?["start_time"] == .integer(1000))
            let batch =
                #"{"run_id":"\#(runID)","metrics":[{"key":"total_cost","value":"NaN","timestamp":5,"step":"2"},{"key":"soc","value":0.5,"timestamp":6}],"params":[{"key":"solver","value":"hybrid"}],"tags":[{"key":"site","value":"north"}]}"#
            #expect(try await client.call(.post, "/api/2.0/mlflow/runs/log-batch", batch).0 == .ok)
            let (updated, info) = try await client.call(
                .post, "/api/2.0/mlflow/runs/update", #"{"run_uuid":"\#(runID)","status":"FINISHED","end_time":2000}"#)
            #expect(updated == .ok)
            #expect(info["run_info"]?["status"] == .string("FINISHED"))
            #expect(info["run_info"]?["end_time"] == .integer(2000))
            let (_, fetched) = try await client.call(.get, "/ajax-api/2.0/mlflow/runs/get?run_id=\(runID)")
            let data = try #require(fetched["run"]?["data"])
            #expect(data["params"] == .array([.object([("key", .string("solver")), ("value", .string("hybrid"))])]))
            #expect(metric("total_cost", in: fetched["run"]) == .string("NaN"))
            #expect(number(metric("soc", in: fetched["run"])) == 0.5)
            let (_, history) = try await client.call(.get, "/api/2.0/mlflow/metrics/get-history?run_id=\(runID)&metric_key=soc")
            guard case .array(let points)? = history["metrics"], let point = points.first else {
                Issue.record("no history: \(history)")
                return
            }
            #expect(points.count == 1)
            #expect(
                point["key"] == .string("soc") && number(point["value"]) == 0.5 && point["timestamp"] == .integer(6) && point["step"] == .integer(0))
        }
    }

    @Test("search takes the query language, pages with tokens and reports a bad filter's column")
    func search() async throws {
        try await TestServer().test { client in
            let (_, experiment) = try await client.call(.post, "/api/2.0/mlflow/experiments/create", #"{"name":"sweep"}"#)
            let experimentID = try #require(string(experiment["experiment_id"]))
            for cost in [30, 10, 20] {
                let (_, run) = try await client.call(.post, "/api/2.0/mlflow/runs/create", #"{"experiment_id":"\#(experimentID)"}"#)
                let runID = try #require(string(run["run"]?["info"]?["run_id"]))
                _ = try await client.call(
                    .post, "/api/2.0/mlflow/runs/log-metric", #"{"run_id":"\#(runID)","key":"cost","value":\#(cost),"timestamp":1}"#)
            }
            let query = #"{"experiment_ids":["\#(experimentID)"],"filter":"metrics.cost > 15","order_by":["metrics.cost DESC"],"max_results":1}"#
            let (_, first) = try await client.call(.post, "/api/2.0/mlflow/runs/search", query)
            guard case .array(let runs)? = first["runs"] else {
                Issue.record("no runs in \(first)")
                return
            }
            #expect(runs.count == 1)
            #expect(number(metric("cost", in: runs.first)) == 30)
            let token = try #require(string(first["next_page_token"]))
            let next =
                #"{"experiment_ids":["\#(experimentID)"],"filter":"metrics.cost > 15","order_by":["metrics.cost DESC"],"max_results":1,"page_token":"\#(token)"}"#
            let (_, second) = try await client.call(.post, "/api/2.0/mlflow/runs/search", next)
            guard case .array(let secondRuns)? = second["runs"] else {
                Issue.record("no runs in \(second)")
                return
            }
            #expect(secondRuns.count == 1 && number(metric("cost", in: secondRuns.first)) == 20)
            #expect(second["next_page_token"] == nil)
            let (status, error) = try await client.call(
                .post, "/api/2.0/mlflow/runs/search", #"{"experiment_ids":["\#(experimentID)"],"filter":"metrics.cost >> 1"}"#)
            #expect(status == .badRequest)
            #expect(error["error_code"] == .string("INVALID_PARAMETER_VALUE"))
            #expect(error["column"] != nil)
        }
    }

    @Test("wrong types, missing fields, unknown runs and routes answer with MLflow's error body, never a 5xx")
    func errors() async throws {
        try await TestServer().test { client in
            let cases: [(HTTPRequest.Method, String, String?, HTTPResponse.Status, String)] = [
                (.post, "/api/2.0/mlflow/experiments/create", "{", .badRequest, "MALFORMED_REQUEST"),
                (.post, "/api/2.0/mlflow/experiments/create", "[1,2]", .badRequest, "MALFORMED_REQUEST"),
                (.post, "/api/2.0/mlflow/experiments/create", #"{"name":7}"#, .badRequest, "INVALID_PARAMETER_VALUE"),
                (.post, "/api/2.0/mlflow/experiments/create", "{}", .badRequest, "INVALID_PARAMETER_VALUE"),
                (.get, "/api/2.0/mlflow/experiments/get?experiment_id=abc", nil, .badRequest, "INVALID_PARAMETER_VALUE"),
                (.get, "/api/2.0/mlflow/experiments/get?experiment_id=424242", nil, .notFound, "RESOURCE_DOES_NOT_EXIST"),
                (.get, "/api/2.0/mlflow/runs/get?run_id=\(String(repeating: "a", count: 32))", nil, .notFound, "RESOURCE_DOES_NOT_EXIST"),
                (.get, "/api/2.0/mlflow/runs/get?run_id=../../etc/passwd", nil, .notFound, "RESOURCE_DOES_NOT_EXIST"),
                (.get, "/api/2.0/mlflow/runs/get", nil, .badRequest, "INVALID_PARAMETER_VALUE"),
                (.post, "/api/2.0/mlflow/runs/search", #"{"experiment_ids":["0"],"run_view_type":"SOME"}"#, .badRequest, "INVALID_PARAMETER_VALUE"),
                (.post, "/api/2.0/mlflow/runs/search", #"{"experiment_ids":["0"],"max_results":0}"#, .badRequest, "INVALID_PARAMETER_VALUE"),
                (.post, "/api/2.0/mlflow/runs/search", #"{"experiment_ids":["0"],"page_token":"garbage"}"#, .badRequest, "INVALID_PARAMETER_VALUE"),
                (.get, "/api/2.0/mlflow/nothing-here", nil, .notFound, "ENDPOINT_NOT_FOUND"),
                (.delete, "/api/2.0/mlflow/runs/create", nil, .notFound, "ENDPOINT_NOT_FOUND"),
            ]
            for (method, path, body, status, code) in cases {
                let (answered, error) = try await client.call(method, path, body)
                #expect(answered == status, "\(method) \(path) \(body ?? "")")
                #expect(error["error_code"] == .string(code), "\(method) \(path) \(body ?? ""): \(error)")
                #expect(string(error["message"])?.isEmpty == false)
            }
        }
    }

    @Test("bodies over the limit get 413 with a JSON body")
    func bodyLimit() async throws {
        try await TestServer().test(ServerConfiguration(maxBodyBytes: 1024)) { client in
            let big = #"{"name":""# + String(repeating: "x", count: 2048) + #""}"#
            let (status, error) = try await client.call(.post, "/api/2.0/mlflow/experiments/create", big)
            #expect(status == .contentTooLarge)
            #expect(error["error_code"] == .string("REQUEST_TOO_LARGE"))
            #expect(try await client.call(.post, "/api/2.0/mlflow/experiments/create", #"{"name":"fits"}"#).0 == .ok)
        }
    }

    @Test("hostile bodies on every route never produce a 5xx")
    func hostileBodies() async throws {
        let bodies = [
            "", "null", "\"text\"", "{\"run_id\":null}", "{\"run_id\":{\"$gt\":1}}", String(repeating: "[", count: 5000),
            "{\"experiment_ids\":[1,2]}",
            "{\"metrics\":[{\"key\":\"a\",\"value\":1e400,\"timestamp\":1}],\"run_id\":\"\(String(repeating: "b", count: 32))\"}",
            "{\"name\":\"\\u0000\",\"experiment_id\":\"-1\"}", "{\"max_results\":1e30,\"experiment_ids\":[\"0\"]}",
        ]
        let server = try await TestServer()
        let routes = MLflowRoutes(store: server.store, clock: { 0 }, bodyLimits: BodyLimits(maxBytes: 1 << 20, readTimeout: .seconds(60))).routes
        try await server.test { client in
            for route in routes {
                for body in bodies {
                    let path = route.prefixes[0] + route.path + (route.method == .get ? "?run_id=%00&experiment_id=%FF&metric_key=" : "")
                    let (status, json) = try await client.call(route.method, path, route.method == .get ? nil : body)
                    #expect(status.code < 500, "\(route.method) \(route.path) with \(body.prefix(60)): \(status) \(json)")
                    if status != .ok { #expect(json["error_code"] != nil) }
                }
            }
        }
    }
}

@Suite("Operations and authentication")
struct OperationsTests {
    @Test("health and ready answer 200 on a current database, ready 503 with a reason once it is gone")
    func healthAndReady() async throws {
        let server = try await TestServer()
        try await server.test { client in
            #expect(try await client.call(.get, "/health").0 == .ok)
            #expect(try await client.call(.get, "/ready").0 == .ok)
            try await server.store.close()
            let (status, body) = try await client.call(.get, "/ready")
            #expect(status == .serviceUnavailable)
            #expect(body["error_code"] != nil)
            #expect(try await client.call(.get, "/health").0 == .ok)
        }
    }

    @Test("the reaper kills runs whose heartbeat is older than its timeout, and only those")
    func reaper() async throws {
        let server = try await TestServer()
        let stale = NewRun(experimentID: .defaultExperiment, startTime: 1_000)
        let fresh = NewRun(experimentID: .defaultExperiment, startTime: 1_000)
        _ = try await server.store.write(
            WriteBatch([.createRun(stale), .createRun(fresh), .heartbeat([stale.runID], at: 1_000), .heartbeat([fresh.runID], at: 299_000)]))
        let reaper = HeartbeatReaper(store: server.store, timeout: .seconds(300), logger: Logger(label: "test"), clock: { 302_000 })
        #expect(await reaper.reapOnce() == [stale.runID])
        #expect(try await server.store.run(stale.runID).info.status == .killed)
        #expect(try await server.store.run(stale.runID).info.endTime == 302_000)
        #expect(try await server.store.run(fresh.runID).info.status == .running)
        try await server.store.close()
        #expect(await reaper.reapOnce().isEmpty, "a store that fails is logged, not thrown")
    }

    @Test("metrics are served in Prometheus's text format")
    func metrics() async throws {
        let server = try await TestServer()
        server.registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "runledger", metricName: "test", unitName: "total", helpText: ""))
            .increment(by: Int64(3))
        try await server.test { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(String(buffer: response.body).contains("runledger_test_total 3"))
            }
        }
    }

    @Test("every route needs a token; read tokens cannot write; write tokens can do everything")
    func authenticationWalk() async throws {
        let readToken = "read-token-0123456789"
        let writeToken = "write-token-0123456789"
        let tokens = try AccessTokens(parsing: "# tokens\n\(readToken) read\n\(writeToken)   write  # the CI's token\n")
        let server = try await TestServer()
        let mlflow = MLflowRoutes(store: server.store, clock: { 0 }, bodyLimits: BodyLimits(maxBytes: 1 << 20, readTimeout: .seconds(60))).routes
        let routes =
            mlflow.flatMap { route in route.prefixes.map { (route.method, $0 + route.path, route.writes) } }
            + [(HTTPRequest.Method.get, "/ready", false), (.get, "/metrics", false)]
        try await server.test(ServerConfiguration(accessTokens: tokens)) { client in
            #expect(try await client.call(.get, "/health").0 == .ok)
            for (method, path, writes) in routes {
                let body: String? = method == .get ? nil : "{}"
                let (anonymous, error) = try await client.call(method, path, body)
                #expect(anonymous == .unauthorized, "\(method) \(path)")
                #expect(error["error_code"] == .string("UNAUTHENTICATED"))
                #expect(try await client.call(method, path, body, token: "not-a-known-token-at-all").0 == .unauthorized)
                let (read, readError) = try await client.call(method, path, body, token: readToken)
                if writes {
                    #expect(read == .forbidden, "\(method) \(path)")
                    #expect(readError["error_code"] == .string("PERMISSION_DENIED"))
                } else {
                    #expect(read != .forbidden && read != .unauthorized, "\(method) \(path)")
                }
                let written = try await client.call(method, path, body, token: writeToken).0
                #expect(written != .forbidden && written != .unauthorized, "\(method) \(path)")
            }
        }
    }

    @Test("a token file with a malformed line or a short token is refused, naming the line")
    func tokenFile() throws {
        #expect(throws: LedgerError.self) { try AccessTokens(parsing: "abcdefghijklmnopqrstu admin\n") }
        #expect(throws: LedgerError.self) { try AccessTokens(parsing: "short read\n") }
        #expect(throws: LedgerError.self) { try AccessTokens(parsing: "# nothing\n\n") }
        do {
            _ = try AccessTokens(parsing: "abcdefghijklmnopqrstu read\nbroken\n")
            Issue.record("accepted a malformed line")
        } catch {
            #expect(error.message.contains("Line 2"))
        }
    }
}

@Suite("Experiment search")
struct ExperimentSearchTests {
    func experiment(_ id: Int64, _ name: String, created: Int64, tags: [String: String] = [:]) -> Experiment {
        Experiment(
            id: ExperimentID(id), name: name, artifactLocation: "", lifecycleStage: .active, creationTime: created, lastUpdateTime: created,
            tags: tags)
    }

    @Test("filters by name and tags, orders by creation time descending by default, and pages by offset")
    func filterOrderPage() throws {
        let all = [
            experiment(0, "Default", created: 1), experiment(1, "grid-a", created: 5, tags: ["team": "grid"]), experiment(2, "grid-b", created: 9),
            experiment(3, "heat", created: 7),
        ]
        let search = try ExperimentSearch(filter: "name LIKE 'grid%'", orderBy: [])
        #expect(try search.page(of: all, maxResults: 10, pageToken: nil).experiments.map(\.id.rawValue) == [2, 1])
        let tagged = try ExperimentSearch(filter: "tags.team = 'grid' AND creation_time > 2", orderBy: [])
        #expect(try tagged.page(of: all, maxResults: 10, pageToken: nil).experiments.map(\.id.rawValue) == [1])
        let byName = try ExperimentSearch(filter: nil, orderBy: ["name DESC"])
        let first = try byName.page(of: all, maxResults: 3, pageToken: nil)
        #expect(first.experiments.map(\.name) == ["heat", "grid-b", "grid-a"])
        let rest = try byName.page(of: all, maxResults: 3, pageToken: first.nextPageToken)
        #expect(rest.experiments.map(\.name) == ["Default"])
        #expect(rest.nextPageToken == nil)
    }

    @Test("refuses unknown keys, OR, and bad order clauses with a message")
    func refusals() {
        for filter in ["owner = 'x'", "name = 'a' OR name = 'b'", "name > 'a'", "creation_time LIKE '1'", "name = "] {
            #expect(throws: LedgerError.self, "\(filter)") { try ExperimentSearch(filter: filter, orderBy: []) }
        }
        for order in ["tags.team", "name SIDEWAYS", "colour ASC"] {
            #expect(throws: LedgerError.self, "\(order)") { try ExperimentSearch(filter: nil, orderBy: [order]) }
        }
    }
}

@Suite("RunLedger analysis routes, in-process")
struct AnalysisRouteTests {
    /// 40 runs in one experiment: solver a, b or none; cost and co2 random; every fifth run without co2.
    func seed(_ store: SQLiteStore) async throws -> (ExperimentID, [Run]) {
        let experiment = try await store.createExperiment(name: "designs", artifactLocation: nil, tags: [])
        var generator = SeededGenerator(seed: 42)
        for index in 0..<40 {
            let run = NewRun(experimentID: experiment.id, startTime: Int64(index))
            var metrics = [Metric(key: "total_cost", value: Double(Int.random(in: 0..<50, using: &generator)), timestamp: 1, step: 0)]
            if index % 5 != 0 {
                metrics.append(Metric(key: "total_co2", value: Double(Int.random(in: 0..<50, using: &generator)), timestamp: 1, step: 0))
            }
            let params = index % 3 == 2 ? [] : [KeyValue("solver", index % 3 == 0 ? "a" : "b")]
            _ = try await store.write(WriteBatch([.createRun(run), .logParams(run.runID, params), .logMetrics(run.runID, metrics)]))
        }
        return (experiment.id, try await store.allRuns(RunQuery(experimentIDs: [experiment.id])))
    }

    @Test("statistics by a param equal a direct computation over the same runs; runs without the param form the null group")
    func statistics() async throws {
        let server = try await TestServer()
        let (experiment, runs) = try await seed(server.store)
        try await server.test { client in
            let body =
                #"{"experiment_ids":["\#(experiment)"],"metric":"metrics.total_cost","group_by":"params.solver","filter":"metrics.total_cost >= 0"}"#
            let (status, answer) = try await client.call(.post, "/api/2.0/runledger/runs/statistics", body)
            #expect(status == .ok)
            guard case .array(let groups)? = answer["groups"] else {
                Issue.record("\(answer)")
                return
            }
            #expect(groups.map { $0["group"] } == [.string("a"), .string("b"), .null])
            for group in groups {
                // Computed here, not by the Summary the route calls: count, mean, max, and p90 interpolated as numpy does.
                let members = runs.filter { $0.params["solver"] == string(group["group"]) }.compactMap { $0.latestMetrics["total_cost"]?.value }
                    .sorted()
                let rank = Double(members.count - 1) * 0.9
                let below = Int(rank.rounded(.down))
                let p90 = members[below] + (rank - Double(below)) * (members[min(below + 1, members.count - 1)] - members[below])
                let mean = members.reduce(0, +) / Double(members.count)
                #expect(group["count"] == .integer(Int64(members.count)))
                #expect(abs((number(group["mean"]) ?? .nan) - mean) <= 1e-9 * max(1, abs(mean)), "\(group)")
                #expect(number(group["p90"]) == p90 && number(group["max"]) == members.last, "\(group)")
            }
            let (_, ungrouped) = try await client.call(
                .post, "/api/2.0/runledger/runs/statistics", #"{"experiment_ids":["\#(experiment)"],"metric":"total_co2"}"#)
            #expect(
                ungrouped["groups"] == .array([try #require(ungrouped["groups"].flatMap { if case .array(let g) = $0 { g.first } else { nil } })]))
            #expect(ungrouped["groups"].flatMap { if case .array(let g) = $0 { g.first?["count"] } else { nil } } == JSONValue.integer(Int64(32)))
            for (bad, fragment) in [
                (#"{"metric":"total_cost"}"#, "experiment_ids"), (#"{"experiment_ids":["\#(experiment)"]}"#, "metric"),
                (#"{"experiment_ids":["\#(experiment)"],"metric":"total_cost","group_by":"solver"}"#, "params.NAME"),
                (#"{"experiment_ids":["\#(experiment)"],"metric":"total_cost","filter":"metrics.total_cost >"}"#, "column 21"),
            ] {
                let (status, error) = try await client.call(.post, "/api/2.0/runledger/runs/statistics", bad)
                #expect(status == .badRequest && (string(error["message"]) ?? "").contains(fragment), "\(bad): \(error)")
            }
        }
    }

    @Test("the Pareto route returns exactly the non-dominated runs with both metrics, best cost first")
    func pareto() async throws {
        let server = try await TestServer()
        let (experiment, runs) = try await seed(server.store)
        try await server.test { client in
            let body =
                #"{"experiment_ids":["\#(experiment)"],"objectives":[{"metric":"total_cost","goal":"minimize"},{"metric":"metrics.total_co2","goal":"maximize"}]}"#
            let (status, answer) = try await client.call(.post, "/api/2.0/runledger/runs/pareto", body)
            #expect(status == .ok)
            guard case .array(let front)? = answer["runs"] else {
                Issue.record("\(answer)")
                return
            }
            let complete = runs.filter { $0.latestMetrics["total_co2"] != nil }
            func value(_ run: Run, _ key: String) -> Double { run.latestMetrics[key]!.value }
            let expected = complete.filter { run in
                !complete.contains { other in
                    value(other, "total_cost") <= value(run, "total_cost") && value(other, "total_co2") >= value(run, "total_co2")
                        && (value(other, "total_cost") < value(run, "total_cost") || value(other, "total_co2") > value(run, "total_co2"))
                }
            }
            let ids = front.compactMap { string($0["info"]?["run_id"]) }
            #expect(Set(ids) == Set(expected.map(\.info.runID.rawValue)) && ids.count == expected.count)
            let costs = ids.map { id in value(runs.first { $0.info.runID.rawValue == id }!, "total_cost") }
            #expect(costs == costs.sorted())
            for bad in [
                #"{"experiment_ids":["\#(experiment)"],"objectives":[{"metric":"total_cost","goal":"minimize"}]}"#,
                #"{"experiment_ids":["\#(experiment)"],"objectives":[{"metric":"total_cost","goal":"cheapest"},{"metric":"total_co2","goal":"minimize"}]}"#,
                #"{"experiment_ids":["\#(experiment)"],"objectives":"total_cost"}"#,
            ] {
                #expect(try await client.call(.post, "/api/2.0/runledger/runs/pareto", bad).0 == .badRequest, "\(bad)")
            }
        }
    }

    @Test("a bucketed history has at most max_buckets buckets covering every point; limits and unknown runs are refused")
    func bucketedHistory() async throws {
        let server = try await TestServer()
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        _ = try await server.store.write(
            WriteBatch([
                .createRun(run),
                .logMetrics(
                    run.runID,
                    (0..<1000).map { (index: Int) in Metric(key: "soc", value: Double(index % 100), timestamp: Int64(index), step: Int64(index)) }),
            ]))
        try await server.test { client in
            let (status, answer) = try await client.call(
                .get, "/api/2.0/runledger/metrics/get-history-bucketed?run_id=\(run.runID)&metric_key=soc&max_buckets=10")
            #expect(status == .ok && answer["points"] == .integer(1000))
            guard case .array(let buckets)? = answer["buckets"] else {
                Issue.record("\(answer)")
                return
            }
            #expect(buckets.count == 10)
            #expect(buckets.compactMap { number($0["count"]) }.reduce(0, +) == 1000)
            #expect(
                number(buckets[0]["min"]) == 0 && number(buckets[0]["max"]) == 99 && number(buckets[0]["mean"]) == 49.5
                    && number(buckets[0]["last"]) == 99)
            #expect(
                try await client.call(.get, "/api/2.0/runledger/metrics/get-history-bucketed?run_id=\(run.runID)&metric_key=soc&max_buckets=0").0
                    == .badRequest)
            #expect(
                try await client.call(.get, "/api/2.0/runledger/metrics/get-history-bucketed?run_id=\(RunID.random())&metric_key=soc").0 == .notFound)
        }
    }
}
