import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A `runledger serve` process; the port comes from the line it prints once it listens.
/// Unchecked: nothing in it changes after `init`.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    private let output = Pipe()

    init(_ arguments: [String]) async throws {
        process.executableURL = CLI.executable
        process.arguments = ["serve"] + arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = await ChildProcess.read(output.fileHandleForReading) { $0.contains("\n") }
        // Without a whole line the server exited before it listened.
        guard line.contains("\n") else { throw CocoaError(.fileReadUnknown) }
        guard let range = line.range(of: #":(\d+) "#, options: .regularExpression), let port = Int(line[range].dropFirst().dropLast()) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Sends SIGTERM and returns the exit status.
    func terminate() async -> Int32 {
        process.terminate()
        return await ChildProcess.exit(of: process)
    }

    func get(_ path: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url + path)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// POSTs `body` as JSON to an MLflow route and returns the decoded answer; a status other than 200 fails the test.
    @discardableResult
    func post(_ route: String, _ body: [String: Any]) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: url + "/api/2.0/mlflow/" + route)!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        try #require(status == 200, "\(route): \(status) \(String(decoding: data, as: UTF8.self))")
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

@Suite("runledger serve and the remote SDK", .serialized)
struct ServerCLITests {
    @Test("serve answers health and ready, and SIGTERM stops it with exit code 0")
    func serveAndStop() async throws {
        let database = temporaryFolder().appendingPathComponent("db.sqlite").path
        let server = try await ServerProcess(["--port", "0", "--database", database])
        #expect(try await server.get("/health").0 == 200)
        let (status, body) = try await server.get("/ready")
        #expect(status == 200 && body.contains("ready"))
        let created = try await server.post("runs/create", ["experiment_id": "0"])
        let runID = try #require((created["run"] as? [String: Any]).flatMap { $0["info"] as? [String: Any] }?["run_id"] as? String)
        try await server.post("runs/log-metric", ["run_id": runID, "key": "soc", "value": 0.5, "timestamp": 1])
        _ = try await server.get("/api/2.0/mlflow/runs/get?run_id=0123456789abcdef0123456789abcdef")
        let (_, metrics) = try await server.get("/metrics")
        for expected in [
            #"http_server_requests_total{http_route="/api/2.0/mlflow/runs/log-metric",http_request_method="POST",http_response_status_code="200"} 1"#,
            #"http_server_requests_total{http_route="/api/2.0/mlflow/runs/get",http_request_method="GET",http_response_status_code="404"} 1"#,
            #"http_server_request_duration_bucket{http_route="/api/2.0/mlflow/runs/create""#,
            "runledger_points_ingested_total 1",
        ] {
            #expect(metrics.contains(expected), "\(expected) is missing from /metrics")
        }
        #expect(await server.terminate() == 0)
    }

    @Test("bad flags are refused with a sentence, before anything listens")
    func badFlags() async throws {
        for (arguments, fragment) in [
            (["--max-body", "lots"], "--max-body"), (["--port", "70000"], "--port"), (["--reap-after", "soon"], "--reap-after"),
        ] {
            let result = try await CLI.run(["serve"] + arguments)
            #expect(result.status != 0 && result.stderr.contains(fragment), "\(arguments): \(result.stderr)")
        }
        let tokens = temporaryFolder().appendingPathComponent("tokens")
        try "short write\n".write(to: tokens, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokens.path)
        let refused = try await CLI.run([
            "serve", "--port", "0", "--auth-token-file", tokens.path, "--database", temporaryFolder().appendingPathComponent("db.sqlite").path,
        ])
        #expect(refused.status == 2 && refused.stderr.contains("shorter than 16"))
        // A token file others may read is refused, as ssh refuses such a key, with the command that fixes it.
        try "abcdefghijklmnopqrstuvwxyz write\n".write(to: tokens, atomically: true, encoding: .utf8)
        for mode in [0o644, 0o640, 0o604] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: tokens.path)
            let readable = try await CLI.run([
                "serve", "--port", "0", "--auth-token-file", tokens.path, "--database", temporaryFolder().appendingPathComponent("db.sqlite").path,
            ])
            #expect(readable.status != 0 && readable.stderr.contains("chmod 600"), "mode \(String(mode, radix: 8)): \(readable.stderr)")
        }
    }

    @Test("energy-study logs through a server; while the server is down it spools, and spool replay sends it exactly once")
    func remoteOutageThenReplay() async throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("db.sqlite").path
        let spool = folder.appendingPathComponent("spool").path
        let tokens = folder.appendingPathComponent("tokens")
        let token = "write-token-\(UUID().uuidString)"
        try "\(token) write\n".write(to: tokens, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokens.path)
        let environment = ["RUNLEDGER_TOKEN": token]

        // Up: the study goes straight to the database through the server.
        var server = try await ServerProcess(["--port", "0", "--database", database, "--auth-token-file", tokens.path])
        let port = server.port
        let direct = try await CLI.run(
            ["--database", server.url, "--runs", "2", "--steps", "20", "--spool", spool, "--experiment", "direct"], executable: "energy-study",
            environment: environment)
        #expect(direct.status == 0, "\(direct.stderr)")
        let directSummary = try #require(JSONSerialization.jsonObject(with: Data(direct.stdout.utf8)) as? [String: Any])
        #expect(directSummary["spooled"] as? Int == 0)
        #expect(await server.terminate() == 0)
        let directRuns = try jsonArray(
            try await CLI.run(["runs", "search", "--database", database, "--experiment", "direct", "--format", "json"]).stdout)
        #expect(directRuns.count == 2 && directRuns.allSatisfy { $0["status"] as? String == "FINISHED" })

        // Down: nothing listens on the port; the study spools everything and still exits 0.
        let study = try await CLI.run(
            [
                "--database", "http://127.0.0.1:\(port)", "--runs", "3", "--steps", "40", "--spool", spool, "--experiment", "outage",
                "--close-timeout", "1",
            ], executable: "energy-study", environment: environment)
        #expect(study.status == 0, "\(study.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(study.stdout.utf8)) as? [String: Any])
        let logged = try #require(summary["points_logged"] as? Int)
        #expect((summary["spooled"] as? Int ?? 0) >= logged)

        // Back: replay through the server, exactly once.
        server = try await ServerProcess(["--port", String(port), "--database", database, "--auth-token-file", tokens.path])
        let replay = try await CLI.run(["spool", "replay", "--spool", spool, "--database", server.url], environment: environment)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(
            try await CLI.run(["spool", "replay", "--spool", spool, "--database", server.url], environment: environment).stderr.contains(
                "Nothing to replay"))
        let runs = try jsonArray(
            try await CLI.run(["runs", "search", "--database", server.url, "--experiment", "outage", "--format", "json"], environment: environment)
                .stdout)
        #expect(runs.count == 3)
        var points = 0
        for run in runs {
            let id = try #require(run["run_id"] as? String)
            for key in ["soc", "grid_import_kw", "pv_kw", "wind_kw", "demand_kw"] {
                points += try jsonArray(try await CLI.run(["metrics", "history", id, key, "--database", database, "--format", "json"]).stdout).count
            }
            points +=
                (run["metrics"] as? [String: Any])?.keys.filter { !["soc", "grid_import_kw", "pv_kw", "wind_kw", "demand_kw"].contains($0) }.count
                ?? 0
        }
        #expect(points == logged, "every logged point arrived exactly once")
        // Without the token the server refuses, and the CLI says so.
        let anonymous = try await CLI.run(["runs", "search", "--database", server.url, "--experiment", "outage"])
        #expect(anonymous.status == 2 && anonymous.stderr.contains("401"))
        #expect(await server.terminate() == 0)
    }
}
