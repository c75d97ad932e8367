import Foundation
import TestSupport
import Testing

/// A Python process running `script` with the database path as `sys.argv[1]`: another process on the same file.
func pythonSQLite(_ script: String, path: String) -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import sqlite3, sys\n" + script, path]
    return process
}

/// Another process holding SQLite's write lock (Python's sqlite3), released when its stdin closes.
final class PythonLockHolder {
    let process: Process
    let input = Pipe()

    init(path: String) async throws {
        let output = Pipe()
        process = pythonSQLite(
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\nsys.stdin.read()\nc.execute('COMMIT')",
            path: path
        )
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // Wait for the lock to be taken: the child says so.
        let line = await ChildProcess.read(output.fileHandleForReading) { $0.contains("locked") }
        guard line.contains("locked") else { throw CocoaError(.fileLocking) }
    }

    func release() async {
        try? input.fileHandleForWriting.close()
        _ = await ChildProcess.exit(of: process)
    }
}

@Suite("spool and reap commands")
struct SpoolCLITests {
    @Test("a study logged during an outage waits in the spool; spool replay sends it exactly once when the database is back")
    func outageThenReplay() async throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("db.sqlite").path
        let spool = folder.appendingPathComponent("spool").path
        #expect(try await CLI.run(["migrate", "up", "--database", database]).status == 0)
        let lock = try await PythonLockHolder(path: database)

        let study = try await CLI.run(
            ["--database", database, "--runs", "3", "--steps", "50", "--spool", spool, "--experiment", "outage", "--close-timeout", "1"],
            executable: "energy-study")
        #expect(study.status == 0, "\(study.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(study.stdout.utf8)) as? [String: Any])
        let logged = try #require(summary["points_logged"] as? Int)
        #expect((summary["spooled"] as? Int ?? 0) >= logged, "everything went to the spool")

        let status = try jsonArray(try await CLI.run(["spool", "status", "--spool", spool, "--format", "json"]).stdout)
        #expect(!status.isEmpty && status.allSatisfy { $0["problem"] is NSNull })
        #expect(status.reduce(0) { $0 + ($1["items"] as? Int ?? 0) } >= logged)

        let refused = try await CLI.run(["spool", "replay", "--spool", spool, "--database", database])
        #expect(refused.status == 2, "the database is still locked")
        #expect(refused.stderr.contains("still waiting"), "\(refused.stderr)")

        await lock.release()
        let replay = try await CLI.run(["spool", "replay", "--spool", spool, "--database", database])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("0 refused"))
        #expect(try jsonArray(try await CLI.run(["spool", "status", "--spool", spool, "--format", "json"]).stdout).isEmpty)

        let runs = try jsonArray(try await CLI.run(["runs", "search", "--database", database, "--experiment", "outage", "--format", "json"]).stdout)
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

        // A second replay finds nothing and changes nothing.
        #expect(try await CLI.run(["spool", "replay", "--spool", spool, "--database", database]).stderr.contains("Nothing to replay"))
    }

    @Test("a spool written for one database is not replayed into another unless --any-database says so")
    func wrongDatabase() async throws {
        let folder = temporaryFolder()
        let mine = folder.appendingPathComponent("mine.sqlite").path
        let other = folder.appendingPathComponent("other.sqlite").path
        let spool = folder.appendingPathComponent("spool").path
        for database in [mine, other] { #expect(try await CLI.run(["migrate", "up", "--database", database]).status == 0) }
        let lock = try await PythonLockHolder(path: mine)
        let study = try await CLI.run(
            ["--database", mine, "--runs", "1", "--steps", "10", "--spool", spool, "--experiment", "away", "--close-timeout", "1"],
            executable: "energy-study")
        await lock.release()
        #expect(study.status == 0, "\(study.stderr)")
        let status = try jsonArray(try await CLI.run(["spool", "status", "--spool", spool, "--format", "json"]).stdout)
        #expect(!status.isEmpty && status.allSatisfy { ($0["database"] as? String)?.hasSuffix("/mine.sqlite") == true }, "\(status)")

        let refused = try await CLI.run(["spool", "replay", "--spool", spool, "--database", other])
        #expect(refused.status == 2 && refused.stderr.contains("another database"), "\(refused.stderr)")
        let untouched = try await CLI.run(["runs", "search", "--database", other, "--experiment", "away", "--format", "json"])
        #expect(untouched.status != 0 && untouched.stderr.contains("away"), "the other database never heard of the study: \(untouched.stdout)")

        let forced = try await CLI.run(["spool", "replay", "--spool", spool, "--database", other, "--any-database"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(
            try jsonArray(try await CLI.run(["runs", "search", "--database", other, "--experiment", "away", "--format", "json"]).stdout).count == 1)
    }

    @Test("runs reap marks only silent RUNNING runs as KILLED, and --older-than is validated")
    func reap() async throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("db.sqlite").path
        #expect(try await CLI.run(["demo", "--database", database, "--runs", "5", "--steps", "2"]).status == 0)
        let reaped = try await CLI.run(["runs", "reap", "--database", database, "--older-than", "0s"])
        #expect(reaped.status == 0 && reaped.stdout.isEmpty, "the demo's runs all ended")
        #expect(reaped.stderr.contains("Marked 0 run(s) KILLED"))
        let bad = try await CLI.run(["runs", "reap", "--database", database, "--older-than", "soon"])
        #expect(bad.status != 0 && bad.stderr.contains("Please give --older-than"))
    }
}
