import Foundation
import LedgerConnect
import LedgerCore
import Testing

@Suite("CLI: stored edge values read back through every command")
struct EdgeValueCLITests {
    @Test(
        "steps and timestamps at the Int64 limits, NaN and infinities, a key starting with a combining mark: every read command exits 0 or says why")
    func edgeValues() async throws {
        let path = temporaryFolder().appendingPathComponent("edge.sqlite").path
        let (run, key) = try await LedgerConnect.withStore(try DatabaseLocation(path), options: ConnectOptions(migrate: true, create: true)) {
            store in
            let experiment = try await store.createExperiment(name: "edge", artifactLocation: nil, tags: [])
            let run = NewRun(experimentID: experiment.id, name: "=cmd|' /C calc'!A0", startTime: .max)
            let other = NewRun(experimentID: experiment.id, name: "other", startTime: .min)
            let key = "\u{0345}combining"
            let edge = [(Int64.min, Int64.min, Double.nan), (.max, .max, .infinity), (0, 1, -0.0), (.max - 1, 2, -.infinity)].map {
                Metric(key: "edge", value: $0.2, timestamp: $0.1, step: $0.0)
            }
            _ = try await store.write(
                WriteBatch([
                    .createRun(run), .createRun(other), .logMetrics(run.runID, edge + [Metric(key: "cost", value: 1, timestamp: 1, step: 0)]),
                    .logMetrics(
                        other.runID, [Metric(key: "edge", value: 1, timestamp: 0, step: 0), Metric(key: "cost", value: 2, timestamp: 0, step: 0)]),
                    .logParams(run.runID, [KeyValue(key, "\u{0301}value")]), .setTags(run.runID, [KeyValue(key, "+1-1")]),
                    .logEvents(run.runID, [RunEvent(timestamp: .max, kind: "edge"), RunEvent(timestamp: .min, kind: "edge")]),
                ])
            )
            return (run, key)
        }
        let id = run.runID.rawValue
        let output = temporaryFolder().appendingPathComponent("out").path
        let commands: [[String]] = [
            ["runs", "search", "--experiment", "edge", "--order-by", "metrics.edge DESC"],
            ["runs", "search", "--experiment", "edge", "--format", "csv", "--columns", "params.\(key)"],
            ["runs", "search", "--experiment", "edge", "--format", "json", "--filter", "params.`\(key)` LIKE '%'"],
            ["runs", "show", id], ["runs", "show", id, "--format", "json"],
            ["metrics", "history", id, "edge"], ["metrics", "history", id, "edge", "--format", "csv"],
            ["metrics", "latest", id, "--key", "edge", "--key", "cost"],
            ["metrics", "latest", "--experiment", "edge", "--key", "edge", "--since", "106751991167d"],
            ["events", id], ["events", id, "--since", "0", "--format", "json"],
            ["stats", "--experiment", "edge", "--metric", "edge", "--group-by", "params.\(key)"],
            ["stats", "--experiment", "edge", "--metric", "cost", "--format", "json"],
            ["pareto", "--experiment", "edge", "--minimize", "edge", "--maximize", "cost"],
            ["pareto", "--experiment", "edge", "--minimize", "edge", "--maximize", "cost", "--minimize", "cost", "--format", "csv"],
            ["export", "csv", "--experiment", "edge", "--output", output + ".csv"],
            ["export", "xlsx", "--experiment", "edge", "--output", output + ".xlsx"],
            ["experiments", "list"],
        ]
        for arguments in commands {
            let result = try await CLI.run(arguments + ["--database", path])
            // A crash is a signal (status above 128 or a trap's 132/133); a refusal is 1 or 2 with a sentence.
            #expect(
                result.status == 0 || ((1...2).contains(result.status) && !result.stderr.isEmpty), "\(arguments): \(result.status) \(result.stderr)")
        }
        let csv = try String(contentsOfFile: output + ".csv", encoding: .utf8)
        #expect(csv.contains("params.\(key)") && csv.contains("'=cmd") && csv.contains("'+1-1"), "\(csv)")
    }
}
