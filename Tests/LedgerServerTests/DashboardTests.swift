import Foundation
import Hummingbird
import HummingbirdTesting
import LedgerCore
import Testing

@testable import LedgerServer

/// A response as the browser sees it: status, headers and the body's bytes.
struct RawResponse {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

extension TestClientProtocol {
    func raw(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: String? = nil) async throws -> RawResponse {
        var headers = headers
        if body != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            RawResponse(status: response.status, headers: response.headers, body: Array(buffer: response.body))
        }
    }
}

@Suite("Results Explorer: the page, its files and its export route")
struct DashboardTests {
    @Test("the root and every /experiments/… path answer with the page, under a policy that forbids inline and foreign scripts")
    func pagePaths() async throws {
        try await TestServer().test { client in
            for path in ["/", "/experiments", "/experiments/0", "/experiments/12/runs/0123456789abcdef0123456789abcdef"] {
                let page = try await client.raw(.get, path)
                #expect(page.status == .ok, "\(path)")
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(page.text.contains(#"<script type="module" src="/ui/app.js"></script>"#))
                let policy = try #require(page.headers[.init("Content-Security-Policy")!])
                #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline") && policy.contains("connect-src 'self'"))
            }
        }
    }

    @Test("every module the page imports is served with a JavaScript type, and nothing is fetched from elsewhere")
    func modules() async throws {
        try await TestServer().test { client in
            var pending = ["app.js"]
            var seen: Set<String> = []
            while let name = pending.popLast() {
                guard seen.insert(name).inserted else { continue }
                let module = try await client.raw(.get, "/ui/\(name)")
                #expect(module.status == .ok, "\(name)")
                #expect(module.headers[.contentType] == "text/javascript; charset=utf-8")
                // The SVG namespace is a name, not an address the page loads.
                let text = module.text.replacingOccurrences(of: "\"http://www.w3.org/2000/svg\"", with: "")
                #expect(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"), "\(name) refers to another host")
                // `import … from "./x.js"`: follow every relative import.
                for line in module.text.split(separator: "\n") where line.hasPrefix("import ") {
                    guard let start = line.range(of: "\"./"), let end = line[start.upperBound...].firstIndex(of: "\"") else { continue }
                    pending.append(String(line[start.upperBound..<end]))
                }
            }
            #expect(seen.isSuperset(of: ["app.js", "api.js", "charts.js", "dom.js"]))
            #expect(try await client.raw(.get, "/ui/style.css").headers[.contentType] == "text/css; charset=utf-8")
        }
    }

    @Test("a file is revalidated by its ETag; an unknown file is a JSON 404")
    func caching() async throws {
        try await TestServer().test { client in
            let first = try await client.raw(.get, "/ui/app.js")
            let tag = try #require(first.headers[.eTag])
            #expect(first.headers[.cacheControl] == "no-cache")
            var headers = HTTPFields()
            headers[.ifNoneMatch] = tag
            let again = try await client.raw(.get, "/ui/app.js", headers: headers)
            #expect(again.status == .notModified && again.body.isEmpty)
            let missing = try await client.raw(.get, "/ui/nothing-here.js")
            #expect(missing.status == .notFound)
            #expect(try JSONValue(parsing: missing.body)["error_code"] == .string("RESOURCE_DOES_NOT_EXIST"))
        }
    }

    @Test("with tokens, the page and its files stay public while the API behind them needs a token")
    func publicPage() async throws {
        let tokens = try AccessTokens(parsing: "read-token-0123456789 read\n")
        try await TestServer().test(ServerConfiguration(accessTokens: tokens)) { client async throws in
            #expect(try await client.raw(.get, "/experiments/0").status == .ok)
            #expect(try await client.raw(.get, "/ui/app.js").status == .ok)
            #expect(try await client.raw(.get, "/api/2.0/runledger/experiments/list").status == .unauthorized)
            #expect(try await client.raw(.get, "/ready").status == .unauthorized)
        }
    }

    @Test("export answers the filtered runs in order as CSV and as an XLSX package; a bad format or column is a 400")
    func export() async throws {
        let server = try await TestServer()
        var batch: [WriteOperation] = []
        for index in 0..<30 {
            let run = NewRun(experimentID: .defaultExperiment, name: "design-\(index)", startTime: Int64(index))
            batch += [
                .createRun(run), .logParams(run.runID, [KeyValue("solver_type", index % 3 == 0 ? "hybrid" : "milp")]),
                .logMetrics(run.runID, [Metric(key: "total_cost", value: Double((index * 37) % 30), timestamp: 0)]),
            ]
        }
        _ = try await server.store.write(WriteBatch(batch))
        try await server.test { client in
            let body =
                #"{"experiment_ids":["0"],"filter":"params.solver_type = 'hybrid'","order_by":["metrics.total_cost ASC"],"columns":["run_name","metrics.total_cost"]}"#
            let csv = try await client.raw(.post, "/api/2.0/runledger/runs/export", body: body)
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition] == #"attachment; filename="runs-0.csv""#)
            let lines = csv.text.split(separator: "\r\n").map(String.init)
            #expect(lines.first == "run_name,metrics.total_cost")
            let costs = lines.dropFirst().map { Double($0.split(separator: ",")[1])! }
            #expect(costs.count == 10 && costs == costs.sorted())

            let xlsx = try await client.raw(.get, "/api/2.0/runledger/runs/export?experiment_ids=0&format=xlsx")
            #expect(xlsx.status == .ok)
            #expect(xlsx.headers[.contentType] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            #expect(xlsx.body.starts(with: [0x50, 0x4B, 0x03, 0x04]), "not a zip package")

            let badFormat = try await client.raw(.post, "/api/2.0/runledger/runs/export", body: #"{"experiment_ids":["0"],"format":"pdf"}"#)
            #expect(badFormat.status == .badRequest && badFormat.text.contains("valid values are csv and xlsx"))
            let badColumn = try await client.raw(.post, "/api/2.0/runledger/runs/export", body: #"{"experiment_ids":["0"],"columns":["<b>"]}"#)
            #expect(badColumn.status == .badRequest && badColumn.text.contains("Unknown column"))
            #expect(try await client.raw(.post, "/api/2.0/runledger/runs/export", body: "{}").status == .badRequest)
        }
    }

    @Test("a bucketed history can be limited to a step range, as a zoomed chart asks")
    func zoomedHistory() async throws {
        let server = try await TestServer()
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        let points = (0..<1000).map { Metric(key: "soc", value: Double($0), timestamp: Int64($0), step: Int64($0)) }
        _ = try await server.store.write(WriteBatch([.createRun(run), .logMetrics(run.runID, points)]))
        try await server.test { client in
            let path = "/api/2.0/runledger/metrics/get-history-bucketed?run_id=\(run.runID)&metric_key=soc"
            let (status, zoomed) = try await client.call(.get, path + "&min_step=200&max_step=299&max_buckets=1000")
            #expect(status == .ok && zoomed["points"] == .integer(100))
            guard case .array(let buckets)? = zoomed["buckets"] else {
                Issue.record("\(zoomed)")
                return
            }
            #expect(buckets.count == 100 && buckets.first?["first_step"] == .integer(200) && buckets.last?["last_step"] == .integer(299))
            #expect(try await client.call(.get, path + "&min_step=5000").1["points"] == .integer(0))
            #expect(try await client.call(.get, path + "&min_step=10&max_step=9").0 == .badRequest)
        }
    }
}
