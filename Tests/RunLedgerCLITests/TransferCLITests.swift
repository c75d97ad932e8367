import Foundation
import Testing

/// `runledger backup`, `restore`, `copy` and `import csv` as a user runs them.
@Suite("Backup, restore, copy and CSV import from the command line")
struct TransferCLITests {
    static let folder = temporaryFolder()
    static let database = folder.appendingPathComponent("study.sqlite").path
    /// Made once, by whichever test asks first (a task: a blocking `static let` would hold a thread).
    static let demo = Task { (try? await CLI.run(["demo", "--database", database, "--runs", "40", "--steps", "12", "--seed", "3"]).status) == 0 }

    static func search(_ database: String, _ experiment: String = "energy-design-study") async throws -> String {
        try await CLI.run([
            "runs", "search", "--database", database, "--experiment", experiment, "--order-by", "metrics.total_cost", "--limit", "1000", "--format",
            "json",
        ]).stdout
    }

    static func summary(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("backup then restore gives the same runs, ids and histories; restore refuses a database with data")
    func backupRestore() async throws {
        _ = try #require(await Self.demo.value ? true : nil)
        let archive = Self.folder.appendingPathComponent("nightly.rlarchive").path
        let backup = try await CLI.run(["backup", "--database", Self.database, "--output", archive])
        #expect(backup.status == 0, "\(backup.stderr)")
        let written = try Self.summary(backup.stdout)
        #expect((written["tables"] as? [String: Any])?["runs"] as? Int == 40)
        #expect(!FileManager.default.fileExists(atPath: archive + ".partial"))

        let restored = Self.folder.appendingPathComponent("restored.sqlite").path
        let restore = try await CLI.run(["restore", archive, "--database", restored])
        #expect(restore.status == 0, "\(restore.stderr)")
        let counts = try Self.summary(restore.stdout)
        #expect(counts["runs"] as? Int == 40 && counts["verified"] as? Bool == true && counts["skipped_runs"] as? Int == 0)
        #expect(try await Self.search(restored) == Self.search(Self.database))
        let run = try #require(try jsonArray(try await Self.search(Self.database)).first?["run_id"] as? String)
        let history = ["metrics", "history", run, "soc", "--format", "json", "--database"]
        #expect(try await CLI.run(history + [restored]).stdout == CLI.run(history + [Self.database]).stdout)

        let again = try await CLI.run(["restore", archive, "--database", Self.database])
        #expect(again.status == 2 && again.stderr.contains("not empty"), "\(again.stderr)")
    }

    @Test("a truncated or altered archive is refused before anything is written")
    func damagedArchive() async throws {
        _ = try #require(await Self.demo.value ? true : nil)
        let archive = Self.folder.appendingPathComponent("whole.rlarchive").path
        #expect(try await CLI.run(["backup", "--database", Self.database, "--output", archive]).status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: archive))
        var altered = bytes
        altered[bytes.count / 2] ^= 0x01
        for (name, data) in [("truncated", bytes.prefix(bytes.count - 20)), ("altered", altered)] {
            let file = Self.folder.appendingPathComponent("\(name).rlarchive").path
            try data.write(to: URL(fileURLWithPath: file))
            let target = Self.folder.appendingPathComponent("\(name).sqlite").path
            let result = try await CLI.run(["restore", file, "--database", target])
            #expect(
                result.status == 2 && result.stderr.contains("archive is damaged") && result.stderr.contains("Nothing was restored"),
                "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target))
        }
    }

    @Test("copy SQLite to SQLite moves the runs and the artifact files; a second copy changes nothing")
    func copy() async throws {
        _ = try #require(await Self.demo.value ? true : nil)
        let source = Self.database
        let artifacts = Self.folder.appendingPathComponent("runledger-artifacts/1/abc/artifacts/plots")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        try Data("x,y\n1,2\n".utf8).write(to: artifacts.appendingPathComponent("curve.csv"))
        let targetFolder = Self.folder.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: targetFolder, withIntermediateDirectories: true)
        let target = targetFolder.appendingPathComponent("copy.sqlite").path
        let first = try await CLI.run(["copy", "--from", source, "--to", target])
        #expect(first.status == 0, "\(first.stderr)")
        let summary = try Self.summary(first.stdout)
        #expect(summary["runs"] as? Int == 40 && summary["artifacts"] as? Int == 1 && summary["artifact_bytes"] as? Int == 8, "\(first.stdout)")
        #expect(
            FileManager.default.contents(atPath: targetFolder.appendingPathComponent("runledger-artifacts/1/abc/artifacts/plots/curve.csv").path)
                != nil)
        #expect(try await Self.search(target) == Self.search(source))
        let second = try Self.summary(try await CLI.run(["copy", "--from", source, "--to", target]).stdout)
        #expect(second["runs"] as? Int == 0 && second["skipped_runs"] as? Int == 40 && second["artifacts"] as? Int == 0)
        let server = try await CLI.run(["copy", "--from", source, "--to", "http://127.0.0.1:9"])
        #expect(server.status == 2 && server.stderr.contains("RunLedger server"), "\(server.stderr)")
    }

    @Test("an exported CSV imports to the same runs; a bad row names its line and writes nothing")
    func csvImport() async throws {
        _ = try #require(await Self.demo.value ? true : nil)
        let exported = Self.folder.appendingPathComponent("export.csv").path
        #expect(
            try await CLI.run(["export", "csv", "--database", Self.database, "--experiment", "energy-design-study", "--output", exported]).status == 0
        )
        let target = Self.folder.appendingPathComponent("imported.sqlite").path
        let result = try await CLI.run(["import", "csv", "--database", target, "--experiment", "energy-design-study", "--file", exported])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try Self.summary(result.stdout)
        #expect(summary["runs"] as? Int == 40 && summary["experiments"] as? Int == 1)
        let again = Self.folder.appendingPathComponent("reexport.csv").path
        #expect(try await CLI.run(["export", "csv", "--database", target, "--experiment", "energy-design-study", "--output", again]).status == 0)
        // Same rows apart from the new run ids (sorted: the order of runs that started in the same millisecond is by id).
        let strip = { (path: String) throws -> [[String]] in
            parseCSV(try String(contentsOfFile: path, encoding: .utf8)).map { Array($0.dropFirst()) }
        }
        let original = try strip(exported)
        let reimported = try strip(again)
        #expect(original.first == reimported.first)
        #expect(
            original.dropFirst().map { $0.joined(separator: "\u{1F}") }.sorted()
                == reimported.dropFirst().map { $0.joined(separator: "\u{1F}") }.sorted())

        let bad = Self.folder.appendingPathComponent("bad.csv").path
        try "run_name,status,metrics.cost,params.p\r\nok,FINISHED,1.5,'=x\r\nbad,FINISHED,cheap,y\r\n".write(
            toFile: bad, atomically: true, encoding: .utf8)
        let fresh = Self.folder.appendingPathComponent("fresh.sqlite").path
        let refused = try await CLI.run(["import", "csv", "--database", fresh, "--experiment", "bad-import", "--file", bad])
        #expect(refused.status == 2 && refused.stderr.contains("Line 3") && refused.stderr.contains("cheap"), "\(refused.stderr)")
        let experiments = try await CLI.run(["experiments", "list", "--database", fresh, "--format", "json"])
        #expect(!experiments.stdout.contains("bad-import"))
    }
}

/// The common move, on a real PostgreSQL cluster: the demo study into PostgreSQL and back, every answer unchanged.
@Suite("Copy through PostgreSQL from the command line", .enabled(if: ProcessInfo.processInfo.environment["RUNLEDGER_TEST_POSTGRES_URL"] != nil))
struct PostgresTransferCLITests {
    @Test("demo study SQLite → PostgreSQL → SQLite: runs, histories, events and state answer the same; backup of PostgreSQL restores to SQLite")
    func roundTrip() async throws {
        let folder = temporaryFolder()
        let source = folder.appendingPathComponent("source.sqlite").path
        #expect(try await CLI.run(["demo", "--database", source, "--runs", "30", "--steps", "12", "--seed", "5"]).status == 0)
        let run = try #require(try jsonArray(try await TransferCLITests.search(source)).first?["run_id"] as? String)
        #expect(try await CLI.run(["projects", "create", "plant", "--database", source]).status == 0)
        let document = folder.appendingPathComponent("state.json").path
        try "{\"layout\": [1, 2, 3], \"name\": \"ü\u{301}\"}".write(toFile: document, atomically: true, encoding: .utf8)
        #expect(try await CLI.run(["state", "put", "plant", "layout", "--file", document, "--database", source]).status == 0)
        let postgres = try await freshPostgresDatabase()
        let up = try await CLI.run(["copy", "--from", source, "--to", postgres])
        #expect(up.status == 0, "\(up.stderr)")
        let back = folder.appendingPathComponent("back.sqlite").path
        let down = try await CLI.run(["copy", "--from", postgres, "--to", back])
        #expect(down.status == 0, "\(down.stderr)")
        let archive = folder.appendingPathComponent("pg.rlarchive").path
        #expect(try await CLI.run(["backup", "--database", postgres, "--output", archive]).status == 0)
        let restored = folder.appendingPathComponent("restored.sqlite").path
        #expect(try await CLI.run(["restore", archive, "--database", restored]).status == 0)
        let questions: [[String]] = [
            ["runs", "search", "--experiment", "energy-design-study", "--order-by", "metrics.total_cost", "--limit", "1000", "--format", "json"],
            ["metrics", "history", run, "soc", "--format", "json"],
            ["experiments", "list", "--all", "--format", "json"],
            ["state", "get", "plant", "layout", "--format", "json"],
            ["stats", "--experiment", "energy-design-study", "--metric", "total_cost", "--group-by", "params.solver_type", "--format", "json"],
        ]
        for question in questions {
            let expected = try await CLI.run(question + ["--database", source])
            #expect(expected.status == 0, "\(question) \(expected.stderr)")
            for database in [postgres, back, restored] {
                #expect(try await CLI.run(question + ["--database", database]).stdout == expected.stdout, "\(question) on \(database)")
            }
        }
    }
}
