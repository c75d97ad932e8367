import Foundation
import Hummingbird
import HummingbirdTesting
import LedgerCore
import Logging
import Testing

@testable import LedgerServer

@Suite("RunLedger routes for state documents, windows, events and retention, in-process")
struct StateRouteTests {
    static let state = "/api/2.0/runledger/projects/solar-farm/state/planner"

    func put(_ client: any TestClientProtocol, _ body: String, ifMatch: String? = nil, ifNoneMatch: String? = nil, token: String? = nil) async throws
        -> RawResponse
    {
        var headers = HTTPFields()
        if let ifMatch { headers[.ifMatch] = ifMatch }
        if let ifNoneMatch { headers[.ifNoneMatch] = ifNoneMatch }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.raw(.put, Self.state, headers: headers, body: body)
    }

    @Test("a state document's version is its ETag; If-Match writes only on that version, If-None-Match * only when new; stale writes get 409")
    func optimisticConcurrency() async throws {
        try await TestServer().test { client async throws in
            let missing = try await put(client, #"{"document": {}}"#)
            #expect(missing.status == .notFound && missing.text.contains("projects create"))
            #expect(try await client.call(.post, "/api/2.0/runledger/projects/create", #"{"name":"solar-farm"}"#).0 == .ok)
            #expect(try await client.raw(.get, Self.state).status == .notFound)

            let created = try await put(client, #"{"document": {"step": 1, "plan": ["a", "b"]}}"#, ifNoneMatch: "*")
            #expect(created.status == .ok && created.headers[.eTag] == "\"1\"")
            let read = try await client.raw(.get, Self.state)
            #expect(read.headers[.eTag] == "\"1\"")
            let body = try JSONValue(parsing: read.body)
            #expect(body["version"] == .integer(1) && body["project"] == .string("solar-farm") && body["namespace"] == .string("planner"))
            #expect(body["document"] == .object([("step", .integer(1)), ("plan", .array([.string("a"), .string("b")]))]))

            #expect(try await put(client, #"{"document": {}}"#, ifNoneMatch: "*").status == .conflict)
            let second = try await put(client, #"{"document": {"step": 2}}"#, ifMatch: "\"1\"")
            #expect(second.status == .ok && second.headers[.eTag] == "\"2\"")
            let stale = try await put(client, #"{"document": {"step": 3}}"#, ifMatch: "\"1\"")
            #expect(stale.status == .conflict)
            #expect(try JSONValue(parsing: stale.body)["error_code"] == .string("RESOURCE_CONFLICT"))
            #expect(stale.text.contains("is at version 2"))
            #expect(try await put(client, #"{"document": 3}"#).headers[.eTag] == "\"3\"", "no precondition: the write goes through")

            #expect(try await put(client, #"{"document": {}}"#, ifMatch: "yesterday").status == .badRequest)
            #expect(try await put(client, #"{"document": {}}"#, ifNoneMatch: "\"4\"").status == .badRequest)
            #expect(try await put(client, #"{"doc": {}}"#).status == .badRequest)
            #expect(try await put(client, "[1").status == .badRequest)
            #expect(try await client.raw(.get, "/api/2.0/runledger/projects/solar-farm/state/a%20b").status == .badRequest, "names are checked")

            let (_, list) = try await client.call(.get, "/api/2.0/runledger/projects/list")
            guard case .array(let projects)? = list["projects"], let project = projects.first else {
                Issue.record("\(list)")
                return
            }
            #expect(projects.count == 1 && project["name"] == .string("solar-farm") && project["last_active_at"] == .null)
            #expect(project["documents"] == .integer(1) && project["has_state"] == .bool(true) && project["archived"] == .bool(false))
        }
    }

    @Test("with tokens, reading state needs a read token and writing it a write token")
    func stateAuthentication() async throws {
        let tokens = try AccessTokens(parsing: "read-token-0123456789 read\nwrite-token-0123456789 write\n")
        try await TestServer().test(ServerConfiguration(accessTokens: tokens)) { client async throws in
            #expect(
                try await client.call(.post, "/api/2.0/runledger/projects/create", #"{"name":"solar-farm"}"#, token: "write-token-0123456789").0
                    == .ok)
            #expect(try await put(client, #"{"document": 1}"#).status == .unauthorized)
            #expect(try await put(client, #"{"document": 1}"#, token: "read-token-0123456789").status == .forbidden)
            #expect(try await put(client, #"{"document": 1}"#, token: "write-token-0123456789").status == .ok)
            var headers = HTTPFields()
            headers[.authorization] = "Bearer read-token-0123456789"
            #expect(try await client.raw(.get, Self.state, headers: headers).status == .ok)
            #expect(try await client.raw(.get, Self.state).status == .unauthorized)
        }
    }

    @Test("windows, events and retention over HTTP: the store's answers in MLflow's conventions; bad input is a 400")
    func telemetryRoutes() async throws {
        let server = try await TestServer()
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        let points = (0..<100).map { Metric(key: "reward", value: Double($0), timestamp: Int64(1000 + $0), step: Int64($0)) }
        _ = try await server.store.write(WriteBatch([.createRun(run), .logMetrics(run.runID, points)]))
        try await server.test { client async throws in
            let (status, window) = try await client.call(
                .get, "/api/2.0/runledger/metrics/window?run_id=\(run.runID)&metric_keys=reward&max_results=3")
            #expect(status == .ok)
            guard case .array(let samples)? = window["samples"] else {
                Issue.record("\(window)")
                return
            }
            #expect(samples.map { $0["step"] } == [.integer(99), .integer(98), .integer(97)])
            let (_, ranged) = try await client.call(
                .get, "/api/2.0/runledger/metrics/window?experiment_id=0&metric_keys=reward&start_time=1010&end_time=1020")
            if case .array(let items)? = ranged["samples"] { #expect(items.count == 10) } else { Issue.record("\(ranged)") }
            #expect(
                try await client.call(.get, "/api/2.0/runledger/metrics/window?run_id=\(run.runID)&experiment_id=0&metric_keys=reward").0
                    == .badRequest)
            #expect(try await client.call(.get, "/api/2.0/runledger/metrics/window?run_id=\(run.runID)").0 == .badRequest)

            let log =
                #"{"run_id":"\#(run.runID)","events":[{"kind":"tool_call","message":"<b>x</b>","level":"warning","timestamp":5,"payload":{"tool":"search"}},{"kind":"health_check"}]}"#
            #expect(try await client.call(.post, "/api/2.0/runledger/runs/log-events", log).0 == .ok)
            let (_, events) = try await client.call(.get, "/api/2.0/runledger/runs/events?run_id=\(run.runID)&min_level=warning")
            guard case .array(let list)? = events["events"], let first = list.first else {
                Issue.record("\(events)")
                return
            }
            #expect(list.count == 1 && first["message"] == .string("<b>x</b>") && first["payload"] == .object([("tool", .string("search"))]))
            #expect(
                try await client.call(
                    .post, "/api/2.0/runledger/runs/log-events", #"{"run_id":"\#(run.runID)","events":[{"kind":"x","level":"loud"}]}"#
                ).0 == .badRequest)
            #expect(try await client.call(.post, "/api/2.0/runledger/runs/log-events", #"{"run_id":"\#(run.runID)","events":[]}"#).0 == .badRequest)

            let (_, created) = try await client.call(.post, "/api/2.0/runledger/retention/create", #"{"key_glob":"rew*","max_points_per_key":10}"#)
            let id = try #require(created["policy"]?["id"])
            let (_, pass) = try await client.call(.post, "/api/2.0/runledger/retention/prune", #"{"id":\#(id),"budget":1000}"#)
            #expect(pass["points"] == .integer(90) && pass["resume"] == nil)
            #expect(try await server.store.metricHistory(runID: run.runID, key: "reward").map(\.step) == Array(90..<100))
            #expect(try await client.call(.post, "/api/2.0/runledger/retention/create", #"{"key_glob":"*"}"#).0 == .badRequest)
            #expect(try await client.call(.post, "/api/2.0/runledger/retention/prune", #"{"id":999}"#).0 == .notFound)
            #expect(try await client.call(.post, "/api/2.0/runledger/retention/delete", #"{"id":\#(id)}"#).0 == .ok)
        }
    }

    @Test("the server's pruner applies every policy in bounded passes until nothing is left, and reports what went")
    func pruner() async throws {
        let server = try await TestServer()
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        let points = (0..<12_000).map { Metric(key: "soc", value: Double($0), timestamp: Int64($0), step: Int64($0)) }
        _ = try await server.store.write(
            WriteBatch([.createRun(run), .logMetrics(run.runID, points), .logEvents(run.runID, [RunEvent(timestamp: 5, kind: "soc_alarm")])]))
        _ = try await server.store.addRetentionPolicy(RetentionPolicy(experimentID: nil, keyGlob: "soc*", maxAge: 5_000))
        let pruner = RetentionPruner(store: server.store, interval: .seconds(60), budget: 1000, logger: Logger(label: "test"), clock: { 10_000 })
        let first = await pruner.pruneOnce()
        #expect(first.points == 5_000 && first.events == 1)
        #expect(try await server.store.metricHistory(runID: run.runID, key: "soc").first?.step == 5_000)
        #expect(await pruner.pruneOnce() == (0, 0))
        try await server.store.close()
    }

    @Test("the OpenAPI document lists the state document's GET and PUT and the new routes")
    func openAPI() async throws {
        try await TestServer().test { client async throws in
            let (_, document) = try await client.call(.get, "/openapi.json")
            let paths = try #require(document["paths"])
            #expect(paths[StateRoutes.path]?["get"] != nil && paths[StateRoutes.path]?["put"] != nil)
            for route in [
                "metrics/window", "runs/events", "runs/log-events", "retention/list", "retention/prune", "projects/list", "projects/switch",
            ] {
                #expect(paths["/api/2.0/runledger/" + route] != nil, "\(route)")
            }
        }
    }
}
