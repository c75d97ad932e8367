import Foundation
import Testing

/// An empty database on the test server named by `RUNLEDGER_TEST_POSTGRES_URL`, created through `psql`.
private func freshPostgresDatabase() throws -> String {
    let server = try #require(ProcessInfo.processInfo.environment["RUNLEDGER_TEST_POSTGRES_URL"])
    let name = "cli_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["psql", server, "-qAtc", "CREATE DATABASE \(name)"]
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0)
    return String(server[..<server.lastIndex(of: "/")!]) + "/" + name
}

@Suite("CLI on PostgreSQL", .enabled(if: ProcessInfo.processInfo.environment["RUNLEDGER_TEST_POSTGRES_URL"] != nil))
struct PostgresCLITests {
    @Test("two `migrate up` processes on one empty database at once: both exit 0, each version applied once")
    func concurrentMigrateUp() async throws {
        let url = try freshPostgresDatabase()
        let results = try await withThrowingTaskGroup(of: CLI.Result.self) { group in
            for _ in 0..<2 { group.addTask { try CLI.run(["migrate", "up", "--database", url, "--format", "json"]) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for result in results {
            #expect(result.status == 0, "\(result.stderr)")
            let rows = try jsonArray(result.stdout)
            #expect(!rows.isEmpty && rows.allSatisfy { $0["state"] as? String == "applied" })
        }
        let status = try CLI.run(["migrate", "status", "--database", url, "--format", "json"])
        let expected = try jsonArray(results[0].stdout).count
        #expect(try jsonArray(status.stdout).count == expected)
    }

    @Test("the demo and search work against a postgres:// URL, given as --database or RUNLEDGER_DATABASE")
    func demoAndSearch() throws {
        let url = try freshPostgresDatabase()
        let demo = try CLI.run(["demo", "--database", url, "--runs", "40"])
        #expect(demo.status == 0, "\(demo.stderr)")
        let search = try CLI.run([
            "runs", "search", "--experiment", "energy-design-study", "--filter", "params.solver_type = 'hybrid'", "--order-by", "metrics.total_cost ASC",
            "--limit", "5", "--format", "json", "--database", url,
        ])
        #expect(search.status == 0, "\(search.stderr)")
        let runs = try jsonArray(search.stdout)
        #expect(!runs.isEmpty && runs.count <= 5)
        let costs = runs.compactMap { (($0["metrics"] as? [String: Any])?["total_cost"]) as? Double }
        #expect(costs.count == runs.count && costs == costs.sorted())
        // The same search through RUNLEDGER_DATABASE.
        let viaEnvironment = try CLI.run(
            ["runs", "search", "--experiment", "energy-design-study", "--filter", "params.solver_type = 'hybrid'", "--order-by", "metrics.total_cost ASC",
             "--limit", "5", "--format", "json"],
            environment: ["RUNLEDGER_DATABASE": url]
        )
        #expect(viaEnvironment.stdout == search.stdout)
    }

    @Test("a folder with two files of one version is refused, naming both; exit 2 and nothing applied")
    func duplicateFolder() throws {
        let url = try freshPostgresDatabase()
        let folder = temporaryFolder()
        for (name, table) in [("001_base.sql", "base"), ("003_agent_metrics.sql", "agent"), ("003_victron_schema.sql", "victron")] {
            try "CREATE TABLE \(table) (id INTEGER);".write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let result = try CLI.run(["migrate", "up", "--dir", folder.path, "--database", url])
        #expect(result.status == 2)
        #expect(result.stderr.contains("003_agent_metrics.sql") && result.stderr.contains("003_victron_schema.sql"), "\(result.stderr)")
        let status = try CLI.run(["migrate", "status", "--database", url, "--dir", folder.path, "--format", "json"])
        if status.status == 0 {
            #expect(try jsonArray(status.stdout).allSatisfy { $0["state"] as? String == "pending" })
        } else {
            #expect(status.status == 2)
        }
    }

    @Test("an unreachable server and a malformed URL are reported in one line, exit 2", arguments: [
        (["runs", "search", "--experiment", "x", "--database", "postgres://nobody@127.0.0.1:1/none"], "No PostgreSQL connection became free"),
        (["runs", "search", "--experiment", "x", "--database", "postgres://127.0.0.1/none"], "names no user"),
    ])
    func badServer(arguments: [String], fragment: String) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(fragment), "\(result.stderr)")
    }
}
