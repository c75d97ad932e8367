import Foundation
import TestSupport
import Testing

/// An empty database on the test server named by `RUNLEDGER_TEST_POSTGRES_URL`, created through `psql`.
func freshPostgresDatabase() async throws -> String {
    let server = try #require(ProcessInfo.processInfo.environment["RUNLEDGER_TEST_POSTGRES_URL"])
    let name = "cli_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
    let created = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), ["psql", server, "-qAtc", "CREATE DATABASE \(name)"])
    try #require(created.status == 0, "\(created.stderr)")
    let base = try #require(server.lastIndex(of: "/"))
    return String(server[..<base]) + "/" + name
}

@Suite("CLI on PostgreSQL", .enabled(if: ProcessInfo.processInfo.environment["RUNLEDGER_TEST_POSTGRES_URL"] != nil))
struct PostgresCLITests {
    @Test("two `migrate up` processes on one empty database at once: both exit 0, each version applied once")
    func concurrentMigrateUp() async throws {
        let url = try await freshPostgresDatabase()
        let results = try await withThrowingTaskGroup(of: CLI.Result.self) { group in
            for _ in 0..<2 { group.addTask { try await CLI.run(["migrate", "up", "--database", url, "--format", "json"]) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for result in results {
            #expect(result.status == 0, "\(result.stderr)")
            let rows = try jsonArray(result.stdout)
            #expect(!rows.isEmpty && rows.allSatisfy { $0["state"] as? String == "applied" })
        }
        let status = try await CLI.run(["migrate", "status", "--database", url, "--format", "json"])
        let expected = try jsonArray(results[0].stdout).count
        #expect(try jsonArray(status.stdout).count == expected)
    }

    @Test("two servers on one database: writes through either are read the same from both")
    func twoServers() async throws {
        let url = try await freshPostgresDatabase()
        // Started together on an empty database, so both migrate it at once.
        async let startedFirst = Task { try await ServerProcess(["--port", "0", "--database", url]) }.value
        async let startedSecond = Task { try await ServerProcess(["--port", "0", "--database", url]) }.value
        let (first, second) = try await (startedFirst, startedSecond)
        defer {  // on a failure; a passing test has already stopped both and checked how they exited
            for server in [first, second] where server.process.isRunning { server.process.terminate() }
        }

        // A run created through one server is logged to and finished through the other.
        let experimentID = try #require(try await first.post("experiments/create", ["name": "shared"])["experiment_id"] as? String)
        let created = try await first.post("runs/create", ["experiment_id": experimentID, "run_name": "crossed", "start_time": 1_000])
        let runID = try #require((created["run"] as? [String: Any]).flatMap { $0["info"] as? [String: Any] }?["run_id"] as? String)
        try await second.post(
            "runs/log-batch",
            [
                "run_id": runID, "params": [["key": "solver", "value": "hybrid"]],
                "metrics": (0..<50).map { ["key": "soc", "value": Double($0) / 50, "timestamp": 2_000 + $0, "step": $0] },
            ])
        try await first.post("runs/log-metric", ["run_id": runID, "key": "total_cost", "value": 1234.5, "timestamp": 3_000])
        try await second.post("runs/update", ["run_id": runID, "status": "FINISHED", "end_time": 4_000])

        // Two studies at once, one through each server.
        async let studyOne = Task {
            try await CLI.run(
                [
                    "--database", first.url, "--runs", "3", "--steps", "24", "--experiment", "shared", "--seed", "1", "--spool",
                    temporaryFolder().path,
                ], executable: "energy-study")
        }.value
        async let studyTwo = Task {
            try await CLI.run(
                [
                    "--database", second.url, "--runs", "3", "--steps", "24", "--experiment", "shared", "--seed", "2", "--spool",
                    temporaryFolder().path,
                ], executable: "energy-study")
        }.value
        for study in try await [studyOne, studyTwo] { #expect(study.status == 0, "\(study.stderr)") }

        func search(_ server: ServerProcess) async throws -> [[String: Any]] {
            let result = try await CLI.run([
                "runs", "search", "--database", server.url, "--experiment", "shared", "--order-by", "metrics.total_cost ASC", "--format", "json",
            ])
            try #require(result.status == 0, "\(result.stderr)")
            return try jsonArray(result.stdout)
        }
        let (throughFirst, throughSecond) = (try await search(first), try await search(second))
        #expect(throughFirst.count == 7 && throughFirst.allSatisfy { $0["status"] as? String == "FINISHED" })
        #expect(
            try JSONSerialization.data(withJSONObject: throughFirst, options: .sortedKeys)
                == JSONSerialization.data(withJSONObject: throughSecond, options: .sortedKeys))
        for server in [first, second] {
            let (status, history) = try await server.get("/api/2.0/mlflow/metrics/get-history?run_id=\(runID)&metric_key=soc")
            #expect(status == 200 && history.components(separatedBy: "\"step\"").count - 1 == 50)
        }
        #expect(await first.terminate() == 0)
        #expect(await second.terminate() == 0)
    }

    @Test("the demo and search work against a postgres:// URL, given as --database or RUNLEDGER_DATABASE")
    func demoAndSearch() async throws {
        let url = try await freshPostgresDatabase()
        let demo = try await CLI.run(["demo", "--database", url, "--runs", "40"])
        #expect(demo.status == 0, "\(demo.stderr)")
        let search = try await CLI.run([
            "runs", "search", "--experiment", "energy-design-study", "--filter", "params.solver_type = 'hybrid'", "--order-by",
            "metrics.total_cost ASC",
            "--limit", "5", "--format", "json", "--database", url,
        ])
        #expect(search.status == 0, "\(search.stderr)")
        let runs = try jsonArray(search.stdout)
        #expect(!runs.isEmpty && runs.count <= 5)
        let costs = runs.compactMap { (($0["metrics"] as? [String: Any])?["total_cost"]) as? Double }
        #expect(costs.count == runs.count && costs == costs.sorted())
        // The same search through RUNLEDGER_DATABASE.
        let viaEnvironment = try await CLI.run(
            [
                "runs", "search", "--experiment", "energy-design-study", "--filter", "params.solver_type = 'hybrid'", "--order-by",
                "metrics.total_cost ASC",
                "--limit", "5", "--format", "json",
            ],
            environment: ["RUNLEDGER_DATABASE": url]
        )
        #expect(viaEnvironment.stdout == search.stdout)
    }

    @Test("a folder with two files of one version is refused, naming both; exit 2 and nothing applied")
    func duplicateFolder() async throws {
        let url = try await freshPostgresDatabase()
        let folder = temporaryFolder()
        for (name, table) in [("001_base.sql", "base"), ("003_agent_metrics.sql", "agent"), ("003_victron_schema.sql", "victron")] {
            try "CREATE TABLE \(table) (id INTEGER);".write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let result = try await CLI.run(["migrate", "up", "--dir", folder.path, "--database", url])
        #expect(result.status == 2)
        #expect(result.stderr.contains("003_agent_metrics.sql") && result.stderr.contains("003_victron_schema.sql"), "\(result.stderr)")
        let status = try await CLI.run(["migrate", "status", "--database", url, "--dir", folder.path, "--format", "json"])
        if status.status == 0 {
            #expect(try jsonArray(status.stdout).allSatisfy { $0["state"] as? String == "pending" })
        } else {
            #expect(status.status == 2)
        }
    }

    @Test(
        "an unreachable server and a malformed URL are reported in one line, exit 2",
        arguments: [
            (["runs", "search", "--experiment", "x", "--database", "postgres://nobody@127.0.0.1:1/none"], "No PostgreSQL connection became free"),
            (["runs", "search", "--experiment", "x", "--database", "postgres://127.0.0.1/none"], "names no user"),
        ])
    func badServer(arguments: [String], fragment: String) async throws {
        let result = try await CLI.run(arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(fragment), "\(result.stderr)")
    }
}
