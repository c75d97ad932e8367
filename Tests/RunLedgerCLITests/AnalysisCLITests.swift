import Foundation
import Testing

@Suite("stats and pareto commands")
struct AnalysisCLITests {
    @Test("aggregate over one bucket of each run's single KPI point agrees with stats; table and CSV print; bad buckets exit 64")
    func aggregate() async throws {
        let database = temporaryFolder().appendingPathComponent("db.sqlite").path
        #expect(try await CLI.run(["demo", "--database", database, "--runs", "40", "--steps", "24"]).status == 0)
        let selection = ["--database", database, "--experiment", "energy-design-study"]
        // total_cost is logged once per run: one step bucket holding every step gives the statistics of the latest values.
        let buckets = try jsonArray(
            try await CLI.run(
                ["aggregate"] + selection + [
                    "--metric", "total_cost", "--bucket", "steps:1000000", "--group-by", "params.solver_type", "--format", "json",
                ]
            ).stdout)
        let stats = try jsonArray(
            try await CLI.run(["stats"] + selection + ["--metric", "total_cost", "--group-by", "params.solver_type", "--format", "json"]).stdout)
        #expect(buckets.count == stats.count && !stats.isEmpty)
        for (bucket, group) in zip(buckets, stats) {
            #expect(bucket["group"] as? String == group["group"] as? String && bucket["count"] as? Int == group["count"] as? Int)
            for key in ["min", "max", "p50", "p90", "p99"] { #expect(bucket[key] as? Double == group[key] as? Double, "\(key)") }
            let mean = group["mean"] as? Double ?? .nan
            #expect(abs((bucket["mean"] as? Double ?? 0) - mean) <= 1e-9 * abs(mean))
        }
        let table = try await CLI.run(["aggregate"] + selection + ["--metric", "soc", "--metric", "pv_kw", "--bucket", "steps:6"])
        #expect(table.status == 0 && table.stdout.contains("FIRST STEP") && table.stdout.contains("pv_kw"), "\(table.stderr)")
        let csv = try await CLI.run(["aggregate"] + selection + ["--metric", "soc", "--bucket", "1h", "--format", "csv"])
        #expect(
            csv.status == 0
                && parseCSV(csv.stdout).first == ["metric", "group", "bucket_start", "count", "sum", "mean", "min", "max", "p50", "p90", "p99"])
        for (bucket, fragment) in [("steps:0", "steps:N"), ("1ms", "Invalid duration"), ("soon", "Invalid duration")] {
            let refused = try await CLI.run(["aggregate"] + selection + ["--metric", "soc", "--bucket", bucket])
            #expect(refused.status == 64 && refused.stderr.contains(fragment), "\(bucket): \(refused.stderr)")
        }
        let missing = try await CLI.run(["aggregate"] + selection + ["--bucket", "1h"])
        #expect(missing.status == 64 && missing.stderr.contains("--metric"))
    }

    @Test("stats --format json agrees with the runs the search prints; grouped rows cover every run with the metric")
    func stats() async throws {
        let database = temporaryFolder().appendingPathComponent("db.sqlite").path
        #expect(try await CLI.run(["demo", "--database", database, "--runs", "50"]).status == 0)
        let runs = try jsonArray(
            try await CLI.run([
                "runs", "search", "--database", database, "--experiment", "energy-design-study", "--limit", "1000", "--format", "json",
            ])
            .stdout)
        let costs = runs.compactMap { ($0["metrics"] as? [String: Any])?["total_cost"] as? Double }.sorted()
        let result = try await CLI.run([
            "stats", "--database", database, "--experiment", "energy-design-study", "--metric", "total_cost", "--format", "json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try jsonArray(result.stdout)
        #expect(rows.count == 1 && rows[0]["group"] is NSNull && rows[0]["count"] as? Int == costs.count)
        #expect(rows[0]["min"] as? Double == costs.first && rows[0]["max"] as? Double == costs.last)
        let mean = costs.reduce(0, +) / Double(costs.count)
        #expect(abs((rows[0]["mean"] as? Double ?? 0) - mean) < 1e-6 * mean)

        let grouped = try jsonArray(
            try await CLI.run([
                "stats", "--database", database, "--experiment", "energy-design-study", "--metric", "metrics.total_cost", "--group-by",
                "params.solver_type", "--format", "json",
            ]).stdout)
        let solvers = Set(runs.compactMap { ($0["params"] as? [String: Any])?["solver_type"] as? String })
        #expect(grouped.compactMap { $0["group"] as? String } == solvers.sorted())
        #expect(grouped.compactMap { $0["count"] as? Int }.reduce(0, +) == costs.count)

        let refused = try await CLI.run([
            "stats", "--database", database, "--experiment", "energy-design-study", "--metric", "total_cost", "--group-by", "solver_type",
        ])
        #expect(refused.status == 64 && refused.stderr.contains("params.NAME"))
    }

    @Test("trend prints every run with the KPI oldest first with the running best, per group; exactly one goal is required")
    func trend() async throws {
        let database = temporaryFolder().appendingPathComponent("db.sqlite").path
        #expect(try await CLI.run(["demo", "--database", database, "--runs", "40"]).status == 0)
        let runs = try jsonArray(
            try await CLI.run([
                "runs", "search", "--database", database, "--experiment", "energy-design-study", "--limit", "1000", "--format", "json",
            ])
            .stdout)
        let withCost = runs.filter { ($0["metrics"] as? [String: Any])?["total_cost"] is Double }
        let result = try await CLI.run([
            "trend", "--database", database, "--experiment", "energy-design-study", "--metric", "total_cost", "--minimize", "--group-by",
            "params.solver_type", "--format", "json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let points = try jsonArray(result.stdout)
        #expect(points.count == withCost.count && !points.isEmpty)
        let starts = points.compactMap { $0["start_time"] as? Int }
        #expect(starts.count == points.count && starts == starts.sorted())
        var best: [String: Double] = [:]
        for point in points {
            let group = point["group"] as? String ?? ""
            let value = point["value"] as? Double ?? .nan
            best[group] = min(best[group] ?? .infinity, value)
            #expect(point["best_so_far"] as? Double == best[group], "\(point)")
        }
        #expect(Set(points.first.map { Array($0.keys) } ?? []) == ["run_id", "run_name", "start_time", "group", "value", "best_so_far"])
        let csv = try await CLI.run([
            "trend", "--database", database, "--experiment", "energy-design-study", "--metric", "total_cost", "--maximize", "--format", "csv",
        ])
        #expect(csv.status == 0 && csv.stdout.hasPrefix("run_id,run_name,start_time,group,value,best_so_far\r\n"))
        #expect(csv.stdout.split(separator: "\r\n").count == withCost.count + 1)
        let table = try await CLI.run([
            "trend", "--database", database, "--experiment", "energy-design-study", "--metric", "total_cost", "--minimize",
        ])
        #expect(table.status == 0 && table.stdout.contains("BEST SO FAR"))
        let both = try await CLI.run([
            "trend", "--database", database, "--experiment", "energy-design-study", "--metric", "total_cost", "--minimize", "--maximize",
        ])
        #expect(both.status == 64 && both.stderr.contains("exactly one of --minimize and --maximize"))
        let neither = try await CLI.run(["trend", "--database", database, "--experiment", "energy-design-study", "--metric", "total_cost"])
        #expect(neither.status == 64)
        let badGroup = try await CLI.run([
            "trend", "--database", database, "--experiment", "energy-design-study", "--metric", "total_cost", "--minimize", "--group-by", "x",
        ])
        #expect(badGroup.status == 64 && badGroup.stderr.contains("params.NAME"))
    }

    @Test("pareto prints exactly the non-dominated runs, ordered by the first objective; one objective is refused")
    func pareto() async throws {
        let database = temporaryFolder().appendingPathComponent("db.sqlite").path
        #expect(try await CLI.run(["demo", "--database", database, "--runs", "80"]).status == 0)
        let runs = try jsonArray(
            try await CLI.run([
                "runs", "search", "--database", database, "--experiment", "energy-design-study", "--limit", "1000", "--format", "json",
            ])
            .stdout)
        func kpis(_ run: [String: Any]) -> (cost: Double, renewable: Double)? {
            guard let metrics = run["metrics"] as? [String: Any], let cost = metrics["total_cost"] as? Double,
                let renewable = metrics["renewable_fraction"] as? Double
            else { return nil }
            return (cost, renewable)
        }
        let points = runs.compactMap { run in kpis(run).map { (run["run_id"] as! String, $0) } }
        let expected = points.filter { _, p in
            !points.contains { _, q in q.cost <= p.cost && q.renewable >= p.renewable && (q.cost < p.cost || q.renewable > p.renewable) }
        }
        let result = try await CLI.run([
            "pareto", "--database", database, "--experiment", "energy-design-study", "--minimize", "total_cost", "--maximize", "renewable_fraction",
            "--format", "json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let front = try jsonArray(result.stdout)
        #expect(Set(front.compactMap { $0["run_id"] as? String }) == Set(expected.map(\.0)) && front.count == expected.count)
        let costs = front.compactMap { kpis($0)?.cost }
        #expect(costs == costs.sorted())
        // Named the other way round, the front is the same set, best renewable fraction first.
        let reversed = try jsonArray(
            try await CLI.run([
                "pareto", "--database", database, "--experiment", "energy-design-study", "--maximize", "renewable_fraction", "--minimize",
                "total_cost", "--format", "json",
            ]).stdout)
        let fractions = reversed.compactMap { kpis($0)?.renewable }
        #expect(fractions == fractions.sorted(by: >) && reversed.count == front.count)
        let single = try await CLI.run(["pareto", "--database", database, "--experiment", "energy-design-study", "--minimize", "total_cost"])
        #expect(single.status == 64 && single.stderr.contains("at least two objectives"))
    }
}
