import Foundation
import TestSupport
import Testing

/// Runs the real `runledger` executable and captures what it prints.
struct CLI {
    static let executable: URL = {
        if let override = ProcessInfo.processInfo.environment["RUNLEDGER_BIN"] { return URL(fileURLWithPath: override) }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("runledger")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        // swift test keeps the test bundle and the executables in the same build folder.
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/debug/runledger")
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `runledger` (or another executable of the package, such as `energy-study`) with `arguments`.
    static func run(_ arguments: [String], executable name: String = "runledger", environment: [String: String] = [:]) async throws -> Result {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "RUNLEDGER_DATABASE")
        for (key, value) in environment { env[key] = value }
        let output = try await ChildProcess.run(executable.deletingLastPathComponent().appendingPathComponent(name), arguments, environment: env)
        return Result(status: output.status, stdout: output.stdout, stderr: output.stderr)
    }
}

func temporaryFolder() -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-cli-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

func jsonArray(_ text: String) throws -> [[String: Any]] {
    try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
}

/// Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF).
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var iterator = Array(text.unicodeScalars).makeIterator()
    var pending: Unicode.Scalar? = nil
    while let scalar = pending ?? iterator.next() {
        pending = nil
        if quoted {
            if scalar == "\"" {
                if let next = iterator.next() {
                    if next == "\"" {
                        field.unicodeScalars.append("\"")
                    } else {
                        quoted = false
                        pending = next
                    }
                } else {
                    quoted = false
                }
            } else {
                field.unicodeScalars.append(scalar)
            }
        } else if scalar == "\"" {
            quoted = true
        } else if scalar == "," {
            row.append(field)
            field = ""
        } else if scalar == "\r" {
            continue
        } else if scalar == "\n" {
            row.append(field)
            rows.append(row)
            row = []
            field = ""
        } else {
            field.unicodeScalars.append(scalar)
        }
    }
    if !field.isEmpty || !row.isEmpty {
        row.append(field)
        rows.append(row)
    }
    return rows
}

@Suite("runledger CLI", .serialized)
struct CLITests {
    static let folder = temporaryFolder()
    static let database = folder.appendingPathComponent("demo.sqlite").path
    /// Made once, by whichever test asks first; a task rather than a blocking `static let`, which would hold a thread.
    static let demo = Task { try? await CLI.run(["demo", "--database", database, "--runs", "120", "--steps", "24", "--seed", "7"]) }

    @Test("demo fills a database that answers the cheapest-hybrid question in order")
    func cheapestHybrid() async throws {
        let demo = try #require(await Self.demo.value)
        #expect(demo.status == 0, "\(demo.stderr)")
        #expect(demo.stdout.contains("Recorded 120 runs"))
        let search = try await CLI.run([
            "runs", "search", "--database", Self.database, "--experiment", "energy-design-study", "--filter", "params.solver_type = 'hybrid'",
            "--order-by", "metrics.total_cost ASC", "--limit", "5", "--format", "json",
        ])
        #expect(search.status == 0, "\(search.stderr)")
        let runs = try jsonArray(search.stdout)
        #expect(runs.count == 5)
        let costs = runs.compactMap { ($0["metrics"] as? [String: Any])?["total_cost"] as? Double }
        #expect(costs.count == 5 && costs == costs.sorted())
        #expect(runs.allSatisfy { ($0["params"] as? [String: String])?["solver_type"] == "hybrid" })
        let keys = Set(runs.first.map { Array($0.keys) } ?? [])
        #expect(keys.isSuperset(of: ["run_id", "run_name", "experiment_id", "status", "start_time", "end_time", "params", "metrics", "tags"]))
        #expect(search.stderr.contains("next page token: "))

        // Every hybrid run, sorted, starts with the five above.
        let all = try jsonArray(
            try await CLI.run([
                "runs", "search", "--database", Self.database, "--experiment", "energy-design-study", "--filter", "params.solver_type = 'hybrid'",
                "--limit", "1000", "--format", "json",
            ]).stdout)
        let cheapest = all.compactMap { ($0["metrics"] as? [String: Any])?["total_cost"] as? Double }.sorted().prefix(5)
        #expect(Array(cheapest) == costs)
    }

    @Test("a filter on a KPI, pagination through the token file, and renewable runs above 80 %")
    func renewableAndPaging() async throws {
        _ = try #require(await Self.demo.value)
        let tokenFile = Self.folder.appendingPathComponent("token").path
        var seen: [String] = []
        var token: String? = nil
        repeat {
            var arguments = [
                "runs", "search", "--database", Self.database, "--experiment", "energy-design-study", "--filter", "metrics.renewable_fraction > 0.8",
                "--limit", "7", "--format", "json", "--page-token-file", tokenFile,
            ]
            if let token { arguments += ["--page-token", token] }
            let page = try await CLI.run(arguments)
            #expect(page.status == 0, "\(page.stderr)")
            let runs = try jsonArray(page.stdout)
            #expect(runs.allSatisfy { (($0["metrics"] as? [String: Any])?["renewable_fraction"] as? Double ?? 0) > 0.8 })
            seen += runs.compactMap { $0["run_id"] as? String }
            let next = try String(contentsOfFile: tokenFile, encoding: .utf8)
            token = next.isEmpty ? nil : next
        } while token != nil
        #expect(Set(seen).count == seen.count)
        let csv = try await CLI.run([
            "runs", "search", "--database", Self.database, "--experiment", "energy-design-study", "--filter", "metrics.renewable_fraction > 0.8",
            "--limit", "1000", "--format", "csv",
        ])
        #expect(parseCSV(csv.stdout).count - 1 == seen.count)
        #expect(seen.count > 0)
    }

    @Test("export csv writes one row per run with params, metrics and tags columns")
    func exportCSV() async throws {
        _ = try #require(await Self.demo.value)
        let output = Self.folder.appendingPathComponent("study.csv").path
        let export = try await CLI.run([
            "export", "csv", "--database", Self.database, "--experiment", "energy-design-study", "--filter", "attributes.status = 'FINISHED'",
            "--output", output,
        ])
        #expect(export.status == 0, "\(export.stderr)")
        let rows = parseCSV(try String(contentsOfFile: output, encoding: .utf8))
        let header = try #require(rows.first)
        #expect(Array(header.prefix(5)) == ["run_id", "run_name", "status", "start_time", "end_time"])
        #expect(header.contains("params.solver_type") && header.contains("metrics.total_cost") && header.contains("tags.site"))
        #expect(rows.dropFirst().allSatisfy { $0.count == header.count && $0[2] == "FINISHED" })
        let finished = try jsonArray(
            try await CLI.run([
                "runs", "search", "--database", Self.database, "--experiment", "energy-design-study", "--filter", "attributes.status = 'FINISHED'",
                "--limit", "1000", "--format", "json",
            ]).stdout)
        #expect(rows.count - 1 == finished.count)
    }

    @Test("export xlsx writes a workbook of the chosen columns of the filtered runs, in order; an unknown column is refused")
    func exportXLSX() async throws {
        _ = try #require(await Self.demo.value)
        let output = Self.folder.appendingPathComponent("hybrid.xlsx").path
        let filter = "params.solver_type = 'hybrid'"
        let export = try await CLI.run([
            "export", "xlsx", "--database", Self.database, "--experiment", "energy-design-study", "--filter", filter,
            "--order-by", "metrics.total_cost ASC", "--columns", "run_id, params.solver_type,metrics.total_cost", "--output", output,
        ])
        #expect(export.status == 0, "\(export.stderr)")
        let rows = try XLSXReader.rows(try Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(rows.first?.map(\.text) == ["run_id", "params.solver_type", "metrics.total_cost"])
        let expected = try jsonArray(
            try await CLI.run([
                "runs", "search", "--database", Self.database, "--experiment", "energy-design-study", "--filter", filter,
                "--order-by", "metrics.total_cost ASC", "--limit", "1000", "--format", "json",
            ]).stdout)
        #expect(rows.dropFirst().map { $0[0].text } == expected.map { $0["run_id"] as? String ?? "" })
        #expect(rows.dropFirst().allSatisfy { $0[1].text == "hybrid" })
        let costs = rows.dropFirst().compactMap { $0.count > 2 && $0[2].type == nil ? Double($0[2].text) : nil }
        #expect(!costs.isEmpty && costs == costs.sorted())

        let refused = try await CLI.run([
            "export", "xlsx", "--database", Self.database, "--experiment", "energy-design-study", "--columns", "cost", "--output", output + ".2",
        ])
        #expect(refused.status == 2 && refused.stderr.contains("Unknown column 'cost'"))
        #expect(!FileManager.default.fileExists(atPath: output + ".2"))
    }

    @Test("runs show, metrics history and experiments list print what the store holds")
    func showAndHistory() async throws {
        _ = try #require(await Self.demo.value)
        let first = try jsonArray(
            try await CLI.run([
                "runs", "search", "--database", Self.database, "--experiment", "energy-design-study", "--limit", "1", "--format", "json",
            ])
            .stdout)[0]
        let runID = try #require(first["run_id"] as? String)
        let show = try await CLI.run(["runs", "show", runID, "--database", Self.database, "--format", "json"])
        let shown = try #require(JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        #expect(shown["run_id"] as? String == runID)
        let history = try jsonArray(try await CLI.run(["metrics", "history", runID, "soc", "--database", Self.database, "--format", "json"]).stdout)
        #expect(history.count == 24 || history.count == 12)
        #expect(history.map { $0["step"] as? Int ?? -1 } == Array(0..<history.count))
        let experiments = try jsonArray(try await CLI.run(["experiments", "list", "--database", Self.database, "--format", "json"]).stdout)
        let study = try #require(experiments.first { $0["name"] as? String == "energy-design-study" })
        #expect(study["run_count"] as? Int == 120)
        #expect(Set(study.keys) == ["experiment_id", "name", "lifecycle_stage", "creation_time", "run_count"])
        let status = try jsonArray(try await CLI.run(["migrate", "status", "--database", Self.database, "--format", "json"]).stdout)
        #expect(status.allSatisfy { $0["version"] is Int && $0["checksum"] is String && $0["applied_at"] is Int })
    }

    @Test("the same seed gives the same study")
    func deterministicDemo() async throws {
        let other = Self.folder.appendingPathComponent("again.sqlite").path
        #expect(try await CLI.run(["demo", "--database", other, "--runs", "120", "--steps", "24", "--seed", "7"]).status == 0)
        let arguments = [
            "runs", "search", "--experiment", "energy-design-study", "--order-by", "metrics.total_cost", "--limit", "1000", "--format", "csv",
        ]
        #expect(
            try await CLI.run(arguments + ["--database", other]).stdout == (try await CLI.run(arguments + ["--database", Self.database]).stdout))
    }

    @Test(
        "bad input ends with exit code 2, one clear line on stderr, and the database untouched",
        arguments: [
            (["runs", "search", "--experiment", "energy-design-study", "--filter", "metrics.total_cost < 'cheap'"], "column 22"),
            (["runs", "search", "--experiment", "energy-design-study", "--order-by", "metrics.total_cost sideways"], "--order-by"),
            (["runs", "search", "--experiment", "no-such-study"], "No experiment named 'no-such-study'"),
            (["runs", "search", "--experiment", "energy-design-study", "--page-token", "garbage"], "page token"),
            (["runs", "show", "0123456789abcdef0123456789abcdef"], "not found"),
            (["runs", "show", "not-a-run-id"], "32 hexadecimal"),
            (["metrics", "history", "0123456789abcdef0123456789abcdef", "soc"], "not found"),
        ])
    func badInput(arguments: [String], fragment: String) async throws {
        _ = try #require(await Self.demo.value)
        let before = try Data(contentsOf: URL(fileURLWithPath: Self.database))
        let result = try await CLI.run(arguments + ["--database", Self.database])
        #expect(result.status == 2)
        #expect(result.stderr.contains(fragment), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: Self.database)) == before)
    }

    @Test("files that are not usable RunLedger databases are refused with exit code 2 and left untouched")
    func unusableDatabases() async throws {
        let garbage = Self.folder.appendingPathComponent("garbage.sqlite").path
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: garbage))
        let missing = Self.folder.appendingPathComponent("missing.sqlite").path
        for (path, fragment) in [(garbage, "not a SQLite database"), (missing, "No RunLedger database")] {
            let result = try await CLI.run(["runs", "search", "--experiment", "x", "--database", path])
            #expect(result.status == 2)
            #expect(result.stderr.contains(fragment), "\(result.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: garbage)) == Data(repeating: 0x42, count: 8192))
        #expect(!FileManager.default.fileExists(atPath: missing))
        let folder = try await CLI.run(["experiments", "list", "--database", Self.folder.path])
        #expect(folder.status == 2 && folder.stderr.contains("is a folder, not a database file"), "\(folder.stderr)")
        let noParent = try await CLI.run(["demo", "--runs", "1", "--database", Self.folder.appendingPathComponent("absent/db.sqlite").path])
        #expect(noParent.status == 2 && noParent.stderr.contains("does not exist"), "\(noParent.stderr)")
    }

    @Test("a database migrated by a newer RunLedger is refused with exit code 2 and left untouched")
    func newerSchema() async throws {
        let path = Self.folder.appendingPathComponent("newer.sqlite").path
        #expect(try await CLI.run(["migrate", "up", "--database", path]).status == 0)
        // A newer RunLedger would have recorded a migration this binary does not know.
        let python = pythonSQLite(
            "c = sqlite3.connect(sys.argv[1])\nc.execute(\"INSERT INTO runledger_schema_history VALUES (9999, 'future', 'x', 1, 0)\")\nc.commit()\nc.execute('PRAGMA wal_checkpoint(TRUNCATE)')\nc.close()",
            path: path
        )
        #expect(try await ChildProcess.start(python) == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        for arguments in [
            ["experiments", "list"], ["runs", "search", "--experiment", "Default"], ["migrate", "validate"], ["demo", "--runs", "1"],
        ] {
            let result = try await CLI.run(arguments + ["--database", path])
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains("newer than this RunLedger"), "\(arguments): \(result.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("RUNLEDGER_DATABASE is the default database, and --help explains every command")
    func environmentAndHelp() async throws {
        _ = try #require(await Self.demo.value)
        let listed = try await CLI.run(["experiments", "list", "--format", "json"], environment: ["RUNLEDGER_DATABASE": Self.database])
        #expect(try jsonArray(listed.stdout).contains { $0["name"] as? String == "energy-design-study" })
        let help = try await CLI.run(["--help"])
        for command in ["demo", "experiments", "runs", "metrics", "export", "migrate"] { #expect(help.stdout.contains(command)) }
        let searchHelp = try await CLI.run(["runs", "search", "--help"])
        #expect(searchHelp.stdout.contains("--filter") && searchHelp.stdout.contains("--order-by") && searchHelp.stdout.contains("--page-token"))
    }
}
