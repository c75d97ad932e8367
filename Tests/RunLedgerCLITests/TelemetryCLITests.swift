import Foundation
import LedgerCore
import LedgerSQLite
import Testing

/// The telemetry and state commands end to end: projects, state documents, retention, prune, windows and events.
@Suite("runledger telemetry and state commands")
struct TelemetryCLITests {
    @Test("state put and get with expected versions: the stale writer exits 3 and changes nothing; get --format json has the documented shape")
    func stateDocuments() async throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("state.sqlite").path
        let document = folder.appendingPathComponent("state.json").path
        try #"{"layout": "grid", "zoom": 2}"#.write(toFile: document, atomically: true, encoding: .utf8)
        let noProject = try await CLI.run(["state", "put", "solar", "ui", "--file", document, "--database", database])
        #expect(noProject.status == 2 && noProject.stderr.contains("runledger projects create solar"))
        #expect(try await CLI.run(["projects", "create", "solar", "--database", database]).status == 0)
        #expect(try await CLI.run(["projects", "create", "solar", "--database", database]).status == 2)
        let first = try await CLI.run(["state", "put", "solar", "ui", "--file", document, "--expected-version", "0", "--database", database])
        #expect(first.status == 0 && first.stdout.contains("version 1"), "\(first.stderr)")
        let stale = try await CLI.run(["state", "put", "solar", "ui", "--file", document, "--expected-version", "0", "--database", database])
        #expect(stale.status == 3 && stale.stderr.contains("is at version 1"), "\(stale.stderr)")
        #expect(
            try await CLI.run(["state", "put", "solar", "ui", "--file", document, "--expected-version", "1", "--database", database]).status == 0)
        #expect(
            try await CLI.run(["state", "put", "solar", "ui", "--file", document, "--expected-version", "1", "--database", database]).status == 3)

        let get = try await CLI.run(["state", "get", "solar", "ui", "--format", "json", "--database", database])
        let object = try #require(JSONSerialization.jsonObject(with: Data(get.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["project", "namespace", "version", "updated_at", "document"])
        #expect(object["version"] as? Int == 2 && (object["document"] as? [String: Any])?["layout"] as? String == "grid")
        #expect(try await CLI.run(["state", "get", "solar", "planner", "--database", database]).status == 2)

        let others = folder.appendingPathComponent("planner.json").path
        try #"{"phase": "implementation", "steps": [1, 2]}"#.write(toFile: others, atomically: true, encoding: .utf8)
        #expect(try await CLI.run(["state", "put", "solar", "planner", "--file", others, "--database", database]).status == 0)
        let query = try await CLI.run([
            "state", "query", "solar", "--where", #"$.phase == "implementation""#, "--format", "json", "--database", database,
        ])
        let matched = try jsonArray(query.stdout)
        #expect(query.status == 0 && matched.map { $0["namespace"] as? String } == ["planner"], "\(query.stderr)")
        let all = try await CLI.run(["state", "query", "solar", "--database", database])
        #expect(all.status == 0 && all.stdout.contains("NAMESPACE") && all.stdout.contains("planner") && all.stdout.contains("ui"))
        #expect(
            try jsonArray(
                try await CLI.run(["state", "query", "solar", "--where", "exists($.zoom)", "--format", "json", "--database", database]).stdout
            )
            .count == 1)
        let malformed = try await CLI.run(["state", "query", "solar", "--where", "$.phase ==", "--database", database])
        #expect(malformed.status == 64 && malformed.stderr.contains("expected a string, a number"), "\(malformed.stderr)")
        #expect(try await CLI.run(["state", "query", "nowhere", "--database", database]).status == 2)

        try "{broken".write(toFile: document, atomically: true, encoding: .utf8)
        let broken = try await CLI.run(["state", "put", "solar", "ui", "--file", document, "--database", database])
        #expect(broken.status == 2 && broken.stderr.contains("not valid JSON"))

        #expect(try await CLI.run(["projects", "create", "wind", "--database", database]).status == 0)
        #expect(try await CLI.run(["projects", "switch", "wind", "--database", database]).status == 0)
        #expect(try await CLI.run(["projects", "archive", "solar", "--database", database]).status == 0)
        let archived = try await CLI.run([
            "state", "put", "solar", "ui", "--file", folder.appendingPathComponent("none.json").path, "--database", database,
        ])
        #expect(archived.status == 2)
        let list = try jsonArray(try await CLI.run(["projects", "list", "--format", "json", "--database", database]).stdout)
        #expect(list.map { $0["name"] as? String } == ["wind", "solar"])
        #expect(list[1]["archived"] as? Bool == true && list[1]["has_state"] as? Bool == true && list[0]["last_active_at"] as? Int != nil)
        #expect(try await CLI.run(["projects", "delete", "solar", "--database", database]).status == 0)
        #expect(try await CLI.run(["state", "get", "solar", "ui", "--database", database]).status == 2)
    }

    @Test("retention set, list, prune --dry-run and prune: the dry run changes nothing, the real one keeps exactly the newest points")
    func retentionAndPrune() async throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("prune.sqlite").path
        #expect(try await CLI.run(["demo", "--database", database, "--runs", "6", "--steps", "48", "--seed", "3"]).status == 0)
        let runs = try jsonArray(
            try await CLI.run(["runs", "search", "--experiment", "energy-design-study", "--limit", "100", "--format", "json", "--database", database])
                .stdout)
        let finished = try #require(runs.first { $0["status"] as? String == "FINISHED" }?["run_id"] as? String)
        func history(_ key: String) async throws -> [[String: Any]] {
            try jsonArray(try await CLI.run(["metrics", "history", finished, key, "--format", "json", "--database", database]).stdout)
        }
        #expect(try await history("soc").count == 48)

        let refused = try await CLI.run(["retention", "set", "--all", "--database", database])
        #expect(refused.status != 0 && refused.stderr.contains("--max-age, --max-points"))
        let set = try await CLI.run([
            "retention", "set", "--experiment", "energy-design-study", "--keys", "so*", "--max-points", "12", "--database", database,
        ])
        #expect(set.status == 0 && set.stdout.contains("keys so*"), "\(set.stderr)")
        let policies = try jsonArray(try await CLI.run(["retention", "list", "--format", "json", "--database", database]).stdout)
        #expect(policies.count == 1 && policies[0]["max_points_per_key"] as? Int == 12 && policies[0]["key_glob"] as? String == "so*")

        let dry = try await CLI.run(["prune", "--dry-run", "--format", "json", "--database", database])
        let counted = try jsonArray(dry.stdout)
        let expected = runs.filter { $0["status"] as? String == "FINISHED" }.count * (48 - 12)
        #expect(counted.first?["points"] as? Int == expected, "\(dry.stdout) \(dry.stderr)")
        #expect(try await history("soc").count == 48, "a dry run changes nothing")

        let real = try await CLI.run(["prune", "--batch", "25", "--database", database])
        #expect(real.status == 0 && real.stdout.contains("Removed \(expected) point(s)"), "\(real.stdout) \(real.stderr)")
        let kept = try await history("soc")
        #expect(kept.map { $0["step"] as? Int } == Array(36..<48).map { $0 as Int? })
        #expect(try await history("pv_kw").count == 48, "keys outside the glob are untouched")
        #expect(try await CLI.run(["retention", "remove", "\(policies[0]["id"] as? Int ?? -1)", "--database", database]).status == 0)
        #expect(try await CLI.run(["retention", "remove", "999", "--database", database]).status == 2)
        #expect(try await CLI.run(["prune", "--database", database]).stdout.contains("No retention policies"))
    }

    @Test("metrics latest reads the newest points of a run or an experiment; events prints a run's event log")
    func windowsAndEvents() async throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("window.sqlite").path
        #expect(try await CLI.run(["demo", "--database", database, "--runs", "4", "--steps", "30", "--seed", "5"]).status == 0)
        let runs = try jsonArray(
            try await CLI.run([
                "runs", "search", "--experiment", "energy-design-study", "--filter", "attributes.status = 'FINISHED'", "--format", "json",
                "--database", database,
            ]).stdout)
        let run = try #require(runs.first?["run_id"] as? String)
        let latest = try jsonArray(
            try await CLI.run(["metrics", "latest", run, "--key", "soc", "--limit", "5", "--format", "json", "--database", database]).stdout)
        #expect(latest.count == 5 && latest.allSatisfy { $0["run_id"] as? String == run && $0["key"] as? String == "soc" })
        let stamps = latest.compactMap { $0["timestamp"] as? Int }
        #expect(stamps == stamps.sorted(by: >))
        let across = try jsonArray(
            try await CLI.run([
                "metrics", "latest", "--experiment", "energy-design-study", "--key", "soc", "--key", "pv_kw", "--limit", "1000", "--format", "json",
                "--database", database,
            ]).stdout)
        #expect(across.count == runs.count * 30 * 2)
        let both = try await CLI.run(["metrics", "latest", run, "--experiment", "energy-design-study", "--key", "soc", "--database", database])
        #expect(both.status != 0 && both.stderr.contains("either a run id or --experiment"))
        let noKey = try await CLI.run(["metrics", "latest", run, "--database", database])
        #expect(noKey.status != 0 && noKey.stderr.contains("--key"))

        let events = try await CLI.run(["events", run, "--format", "json", "--database", database])
        let eventList = try jsonArray(events.stdout)
        #expect(events.status == 0 && eventList.isEmpty)
        let badLevel = try await CLI.run(["events", run, "--level", "loud", "--database", database])
        #expect(badLevel.status == 2 && badLevel.stderr.contains("valid levels are debug, info, warning and error"))
    }
}

@Suite("runledger events search and summary")
struct EventSearchCLITests {
    @Test("events search and summary read across an experiment's runs by filter, kind, level and time, in every format; bad input exits 2")
    func searchAndSummary() async throws {
        let database = temporaryFolder().appendingPathComponent("events.sqlite").path
        let store = try await SQLiteStore.open(path: database)
        let experiment = try await store.createExperiment(name: "agents", artifactLocation: nil, tags: []).id
        var runs: [RunID] = []
        for index in 0..<3 {
            let run = try await store.createRun(
                NewRun(experimentID: experiment, startTime: Int64(index)), params: [KeyValue("model", index == 0 ? "small" : "large")])
            runs.append(run.runID)
            let events = (0..<10).map { (item: Int) -> RunEvent in
                let level: EventLevel = item % 3 == 0 ? .error : .info
                let kind = item % 2 == 0 ? "health_check" : "tool_call"
                let timestamp: Int64 = 1_700_000_000_000 + Int64(item) * 600_000
                return RunEvent(timestamp: timestamp, level: level, kind: kind, message: "agent \(index), \"item\" \(item)")
            }
            _ = try await store.write(WriteBatch([.logEvents(run.runID, events)]))
        }
        try await store.close()

        let all = try await CLI.run(["events", "search", "--experiment", "agents", "--format", "json", "--limit", "100", "--database", database])
        let allEvents = try jsonArray(all.stdout)
        #expect(all.status == 0 && allEvents.count == 30, "\(all.stderr)")
        let stamps = allEvents.compactMap { $0["timestamp"] as? Int }
        #expect(stamps.count == 30 && stamps == stamps.sorted(by: >))
        let failed = try jsonArray(
            try await CLI.run([
                "events", "search", "--experiment", "agents", "--filter", "params.model = 'small'", "--kind", "health_check", "--level", "error",
                "--format", "json", "--database", database,
            ]).stdout)
        // Items 0 and 6 are failed health checks, in the one small run.
        #expect(failed.map { $0["run_id"] as? String } == [runs[0].rawValue, runs[0].rawValue])
        #expect(failed.map { $0["timestamp"] as? Int } == [1_700_000_000_000 + 6 * 600_000, 1_700_000_000_000])
        let csv = try await CLI.run(["events", "search", "--experiment", "agents", "--limit", "2", "--format", "csv", "--database", database])
        #expect(
            csv.stdout.hasPrefix("run_id,timestamp,level,kind,message,payload\r\n") && csv.stdout.contains("\"agent 2, \"\"item\"\" 9\""),
            "\(csv.stdout)")
        let table = try await CLI.run(["events", "search", "--experiment", "agents", "--limit", "1", "--database", database])
        #expect(table.stdout.contains("RUN ID") && table.stdout.contains(runs[2].rawValue))

        let summary = try jsonArray(
            try await CLI.run(["events", "summary", "--experiment", "agents", "--bucket", "1h", "--format", "json", "--database", database]).stdout)
        // 1_700_000_000_000 is 22:13:20 UTC: items 0–4 fall in the hour starting at 1_699_999_200_000, items 5–9 in the next.
        #expect(summary.count == 8)
        #expect(summary.first?["bucket_start"] as? Int == 1_699_999_200_000 && summary.last?["bucket_start"] as? Int == 1_700_002_800_000)
        #expect(summary.compactMap { $0["count"] as? Int }.reduce(0, +) == 30)
        #expect(Set(summary.first.map { Array($0.keys) } ?? []) == ["bucket_start", "kind", "level", "count"])
        let summaryTable = try await CLI.run(["events", "summary", "--experiment", "agents", "--bucket", "1d", "--database", database])
        #expect(summaryTable.status == 0 && summaryTable.stdout.contains("BUCKET START (UTC)") && summaryTable.stdout.contains("health_check"))

        let badBucket = try await CLI.run(["events", "summary", "--experiment", "agents", "--bucket", "5ms", "--database", database])
        #expect(badBucket.status == 2 && badBucket.stderr.contains("90s, 30m"), "\(badBucket.stderr)")
        let tinyBucket = try await CLI.run(["events", "summary", "--experiment", "agents", "--bucket", "10", "--database", database])
        #expect(tinyBucket.status == 2 && tinyBucket.stderr.contains("between 1 second and 3650 days"), "\(tinyBucket.stderr)")
        let badFilter = try await CLI.run(["events", "search", "--experiment", "agents", "--filter", "params.model ==", "--database", database])
        #expect(badFilter.status == 2)
        let noExperiment = try await CLI.run(["events", "search", "--experiment", "nowhere", "--database", database])
        #expect(noExperiment.status == 2 && noExperiment.stderr.contains("nowhere"))
        let badLevel = try await CLI.run(["events", "search", "--experiment", "agents", "--level", "loud", "--database", database])
        #expect(badLevel.status == 2 && badLevel.stderr.contains("valid levels are debug, info, warning and error"))
        // The run's own log stays the default subcommand.
        #expect(try jsonArray(try await CLI.run(["events", runs[1].rawValue, "--format", "json", "--database", database]).stdout).count == 10)
        #expect(try await CLI.run(["events", "--help"]).stdout.contains("summary"))
    }
}
