import Foundation
import LedgerCore
import LedgerSQLite
import TestSupport
import Testing

@testable import RunLedger

/// `energy-study` processes started together on one database and one spool root, round after round: the setting in
/// which a spool folder of a starting process could be adopted, and the database is contended enough to spool.
/// `scripts/test` runs this suite on its own, after the others: six processes at once would make their timing-sensitive
/// tests (acquire timeouts, heartbeats) wait on the machine rather than on the code.
@Suite("Contention: several processes on one database", .serialized)
struct ContentionTests {
    static let processes = 6, rounds = 3

    struct Outcome: Sendable {
        let status: Int32
        /// The summary's counts (`points_logged`, `dropped`, `pending`, …).
        let summary: [String: Int]
        let stderr: String
    }

    /// Runs one energy-study process to its end; output goes through files, so that a chatty process never blocks,
    /// and the wait is a continuation, so that six processes do not need six of the cooperative pool's threads.
    static func study(_ arguments: [String]) async throws -> Outcome {
        let output = try await ChildProcess.run(energyStudyExecutable(), arguments)
        let stdout = output.stdout
        let object = (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:]
        let summary = object.compactMapValues { $0 as? Int }
        return Outcome(status: output.status, summary: summary, stderr: output.stderr)
    }

    /// Every round: `processes` studies at once, one experiment per round; then the database must hold each logged
    /// point exactly once, no run may be left RUNNING, and every process must say it lost and left nothing.
    /// With `lock`, rounds after the first start with the database locked until at least two processes have spooled,
    /// so that spooling, adoption and replay are exercised whatever the machine's speed.
    static func rounds(database: String, steps: Int, lock: (() throws -> WriteLockHolder)? = nil, count: (String) async throws -> Int) async throws {
        let spool = temporaryFolder("contention-spool").path
        for round in 1...rounds {
            let experiment = "contention-\(round)"
            let outage = round > 1 ? try lock?() : nil
            try outage?.lock()
            let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
                for index in 0..<processes {
                    group.addTask {
                        try await study([
                            "--database", database, "--runs", "3", "--steps", "\(steps)", "--workers", "2", "--seed", "\(round * 10 + index)",
                            "--spool", spool,
                            "--experiment", experiment,
                        ])
                    }
                }
                if let outage {
                    let spooling = { Spool.folders(in: URL(fileURLWithPath: spool)).filter { !Spool.segments(in: $0).isEmpty }.count }
                    let before = spooling()
                    try await eventually { spooling() >= before + 2 }
                    #expect(outage.unlock(), "round \(round): the lock was not released")
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            var logged = 0
            // Whether the spool was needed depends on the machine; the figure says how much of it this round exercised.
            print("contention round \(round): \(outcomes.map { $0.summary["spooled"] ?? 0 }) items spooled per process")
            for outcome in outcomes {
                #expect(outcome.status == 0, "round \(round): \(outcome.stderr.suffix(2000))")
                for field in ["dropped", "lost", "lost_records", "pending", "rejected"] {
                    #expect(outcome.summary[field] == 0, "round \(round): \(field) in \(outcome.summary) \(outcome.stderr.suffix(1500))")
                }
                logged += outcome.summary["points_logged"] ?? 0
            }
            let stored = try await count(
                """
                SELECT COALESCE(SUM(m.point_count), 0) FROM metric_chunks m JOIN runs r ON r.id = m.run_id JOIN experiments e ON e.experiment_id = r.experiment_id
                WHERE e.name = '\(experiment)'
                """
            )
            #expect(logged > 0 && stored == logged, "round \(round): \(stored) points stored, \(logged) logged")
            let running = try await count(
                "SELECT COUNT(*) FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id WHERE e.name = '\(experiment)' AND r.status = 'RUNNING'"
            )
            #expect(running == 0, "round \(round): \(running) run(s) left RUNNING")
        }
    }

    @Test("six processes on one SQLite file and one spool root, three rounds, two starting locked out: every point exactly once, no run left RUNNING")
    func sqlite() async throws {
        let path = temporaryFolder("contention").appendingPathComponent("db.sqlite").path
        try await SQLiteStore.open(path: path).close()
        try await Self.rounds(database: path, steps: 10_000, lock: { try WriteLockHolder(path: path) }, count: { sql in try scalar(path, sql) })
    }

    @Test(
        "six processes on one PostgreSQL database and one spool root, three rounds: every point exactly once, no run left RUNNING",
        .enabled(if: ProcessInfo.processInfo.environment["RUNLEDGER_TEST_POSTGRES_URL"] != nil)
    )
    func postgres() async throws {
        let server = try #require(ProcessInfo.processInfo.environment["RUNLEDGER_TEST_POSTGRES_URL"])
        let name = "contention_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        _ = try await ThrowawayCluster.run(URL(fileURLWithPath: "/usr/bin/env"), ["psql", server, "-qAtc", "CREATE DATABASE \(name)"])
        guard let slash = server.lastIndex(of: "/") else { throw LedgerError(.internal, "no database in \(server)") }
        let url = String(server[..<slash]) + "/" + name
        // Migrated once, as an operator would, so that the studies start on a current schema.
        _ = try await ThrowawayCluster.run(runledgerExecutable(), ["migrate", "up", "--database", url])
        try await Self.rounds(database: url, steps: 4000) { sql in
            Int(try await ThrowawayCluster.run(URL(fileURLWithPath: "/usr/bin/env"), ["psql", url, "-qAtc", sql])) ?? -1
        }
    }
}

func runledgerExecutable() -> URL { energyStudyExecutable().deletingLastPathComponent().appendingPathComponent("runledger") }
