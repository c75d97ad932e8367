import EnergySimulation
import Foundation
import Testing

@testable import LedgerCore

/// Aggregations across runs: the same rows on every backend as a brute-force reference over the same points.
@Suite("Aggregation conformance")
struct AggregateConformanceTests {
    /// Runs with a param, a tag and two or three metrics whose timestamps do not follow their steps, and a reference
    /// copy of every point in the order a store reads them (runs as created, points by step).
    struct Data {
        var experiment: ExperimentID
        var runs: [(id: RunID, solver: String?, site: String, points: [String: [MetricPoint]])] = []
        var deleted: RunID?

        static func make(_ store: any TrackingStore, seed: UInt64) async throws -> Data {
            var random = SeededGenerator(seed: seed)
            let experiment = try await store.createExperiment(name: "aggregate-\(seed)", artifactLocation: nil, tags: []).id
            let other = try await store.createExperiment(name: "elsewhere-\(seed)", artifactLocation: nil, tags: []).id
            var data = Data(experiment: experiment)
            // A run of another experiment, with the same metric: never counted.
            let stranger = NewRun(experimentID: other, name: "stranger", startTime: 0)
            _ = try await store.write(
                WriteBatch([.createRun(stranger), .logMetrics(stranger.runID, [Metric(key: "load", value: 1e9, timestamp: 10, step: 0)])]))
            for index in 0..<12 {
                let run = NewRun(experimentID: experiment, name: "r\(index)", startTime: Int64(index))
                // Group values that sort differently by UTF-8 and by Swift's String order, and runs without one.
                let solver: String? = [nil, "Zeta", "alpha", "milp", "e\u{301}", "\u{E9}"][index % 6]
                let site = index % 2 == 0 ? "north" : "south"
                var points: [String: [MetricPoint]] = [:]
                for key in index % 3 == 0 ? ["load", "temp", "edge"] : ["load", "temp"] {
                    let count = key == "edge" ? 5 : 30 + Int(random.next() % 50)
                    var series: [MetricPoint] = []
                    for step in 0..<count {
                        let timestamp: Int64 =
                            key == "edge"
                            ? [Int64.min, Int64.min + 1, -1, 0, Int64.max][step]
                            : 1_700_000_000_000 + Int64(random.next() % (6 * 3_600_000))
                        var value = Double(Int(random.next() % 2000) - 1000) / 8
                        if step % 17 == 5 { value = .nan }
                        if index == 4 && step == 3 { value = .infinity }
                        series.append(MetricPoint(value: value, timestamp: timestamp, step: Int64(step) * 3 - 20))
                    }
                    points[key] = series
                }
                var operations: [WriteOperation] = [.createRun(run), .setTags(run.runID, [KeyValue("site", site)])]
                if let solver { operations.append(.logParams(run.runID, [KeyValue("solver", solver)])) }
                _ = try await store.write(WriteBatch(operations))
                // Points of all keys shuffled, in batches of random size: chunks that are merged and rewritten.
                var pending = points.flatMap { key, series in series.map { Metric(key: key, value: $0.value, timestamp: $0.timestamp, step: $0.step) }
                }
                .shuffled(using: &random)[...]
                while !pending.isEmpty {
                    let size = min(pending.count, 1 + Int(random.next() % 40))
                    _ = try await store.write(WriteBatch([.logMetrics(run.runID, Array(pending.prefix(size)))]))
                    pending = pending.dropFirst(size)
                }
                data.runs.append((run.runID, solver, site, points))
            }
            data.deleted = data.runs[7].id
            try await store.setRunLifecycle(data.runs[7].id, .deleted)
            return data
        }

        /// The rows an aggregation must give, from the reference copy; `keep` selects runs as the filter and view do.
        func expected(_ aggregation: MetricAggregation, keep: (Int) -> Bool) -> [AggregateRow] {
            // Groups by their bytes: "e\u{301}" and "\u{E9}" are equal Swift strings but different stored values.
            struct Cell: Hashable {
                var metric: String
                var group: [UInt8]?
                var start: Int64
            }
            var cells: [Cell: [Double]] = [:]
            var order: [Cell] = []
            for (index, run) in runs.enumerated() where keep(index) {
                let group: [UInt8]? =
                    switch aggregation.groupBy {
                    case .param?: run.solver.map { Array($0.utf8) }
                    case .tag?: Array(run.site.utf8)
                    case nil: nil
                    }
                for metric in aggregation.keys {
                    for point in (run.points[metric] ?? []).sorted(by: { ($0.step, $0.timestamp) < ($1.step, $1.timestamp) }) {
                        guard !point.value.isNaN, point.timestamp >= aggregation.since ?? .min, point.timestamp < aggregation.until ?? .max else {
                            continue
                        }
                        let start =
                            switch aggregation.bucketing {
                            case .time(let width): floorToMultiple(point.timestamp, width)
                            case .steps(let width): floorToMultiple(point.step, width)
                            }
                        let cell = Cell(metric: metric, group: group, start: start)
                        if cells[cell] == nil { order.append(cell) }
                        cells[cell, default: []].append(point.value)
                    }
                }
            }
            let sortedCells = order.sorted { a, b in
                if a.metric != b.metric { return Array(a.metric.utf8).lexicographicallyPrecedes(Array(b.metric.utf8)) }
                if a.group != b.group {
                    guard let x = a.group else { return false }
                    guard let y = b.group else { return true }
                    return x.lexicographicallyPrecedes(y)
                }
                return a.start < b.start
            }
            return sortedCells.map { cell in
                let values = cells[cell] ?? []
                let sorted = values.sorted()
                let sum = values.reduce(0, +)
                return AggregateRow(
                    metric: cell.metric, group: cell.group.map { String(decoding: $0, as: UTF8.self) }, bucketStart: cell.start,
                    count: Int64(values.count), sum: sum,
                    mean: sum / Double(values.count), min: sorted[0], max: sorted[sorted.count - 1], p50: numpy(sorted, 0.5), p90: numpy(sorted, 0.9),
                    p99: numpy(sorted, 0.99))
            }
        }
    }

    /// The floor of `value` to a multiple of `width` by way of the quotient; Int64.min below `Int64.min + width`.
    static func floorToMultiple(_ value: Int64, _ width: Int64) -> Int64 {
        if value < Int64.min + width { return .min }
        var quotient = value / width
        if quotient * width > value { quotient -= 1 }
        return quotient * width
    }

    @Test("aggregations by time and by step, grouped, filtered and ranged equal the reference on every backend", arguments: StoreBackend.all)
    func matchesReference(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let data = try await Data.make(store, seed: 23)
        let all = RunQuery(experimentIDs: [data.experiment])
        let deleted = 7
        let cases: [(MetricAggregation, (Int) -> Bool)] = [
            (MetricAggregation(runs: all, metrics: ["load", "metrics.temp"], bucketing: .time(3_600_000)), { $0 != deleted }),
            (MetricAggregation(runs: all, metrics: ["temp"], bucketing: .steps(7), groupBy: .param("solver")), { $0 != deleted }),
            (
                MetricAggregation(
                    runs: RunQuery(experimentIDs: [data.experiment], filter: try Filter.parse("tags.site = 'north'"), view: .all),
                    metrics: ["load", "load"], bucketing: .time(15 * 60_000), groupBy: .param("solver"), since: 1_700_000_000_000 + 3_600_000,
                    until: 1_700_000_000_000 + 4 * 3_600_000),
                { data.runs[$0].site == "north" }
            ),
            (MetricAggregation(runs: all, metrics: ["edge"], bucketing: .time(3_600_000), groupBy: .tag("site")), { $0 != deleted }),
            (MetricAggregation(runs: all, metrics: ["edge", "temp"], bucketing: .steps(Int64.max)), { $0 != deleted }),
            (
                MetricAggregation(runs: RunQuery(experimentIDs: [data.experiment], view: .deletedOnly), metrics: ["load"], bucketing: .steps(1)),
                { $0 == deleted }
            ),
            (MetricAggregation(runs: all, metrics: ["absent"], bucketing: .time(60_000)), { _ in true }),
        ]
        for (index, (aggregation, keep)) in cases.enumerated() {
            let answer = try await store.aggregate(aggregation)
            let expected = data.expected(aggregation, keep: keep)
            #expect(answer.count == expected.count, "case \(index)")
            #expect(expected.isEmpty == (index == cases.count - 1), "case \(index) has rows; only the absent metric has none")
            for (got, want) in zip(answer, expected) { #expect(got == want, "case \(index): \(got.json) != \(want.json)") }
        }
        try await store.close()
    }

    @Test(
        "chunks read a few per statement, resuming after the last row, give the same bits as a thousand per statement",
        arguments: StoreBackend.all.filter { $0.name != "Server" })
    func resumedStatements(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let relational = try #require(store as? any RelationalStore)
        let data = try await Data.make(store, seed: 31)
        let all = RunQuery(experimentIDs: [data.experiment])
        for aggregation in [
            MetricAggregation(runs: all, metrics: ["load", "temp", "edge"], bucketing: .time(3_600_000), groupBy: .param("solver")),
            MetricAggregation(runs: all, metrics: ["temp"], bucketing: .steps(5), since: 1_700_000_000_000 + 3_600_000),
        ] {
            let whole = try await store.aggregate(aggregation)
            for size in [1, 2, 7] {
                let resumed = try await relational.run(try AggregatePlan(aggregation, chunksPerStatement: size), writing: false)
                #expect(!whole.isEmpty && resumed == whole, "\(size) chunks a statement")
            }
        }
        try await store.close()
    }

    @Test("bad aggregations are refused with what to change; past 10,000 buckets the answer is refused, not truncated", arguments: StoreBackend.all)
    func refusals(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "wide", artifactLocation: nil, tags: []).id
        let run = NewRun(experimentID: experiment, name: "long", startTime: 0)
        let points = (0...Int64(Limits.summaryRows)).map { Metric(key: "x", value: Double($0), timestamp: $0 * 1000, step: $0) }
        _ = try await store.write(WriteBatch([.createRun(run), .logMetrics(run.runID, points)]))
        let query = RunQuery(experimentIDs: [experiment])
        await expectLedgerError(.invalidParameterValue, "10000 buckets") {
            _ = try await store.aggregate(MetricAggregation(runs: query, metrics: ["x"], bucketing: .steps(1)))
        }
        // One bucket fewer is answered whole.
        let narrowed = try await store.aggregate(
            MetricAggregation(runs: query, metrics: ["x"], bucketing: .steps(1), until: Int64(Limits.summaryRows) * 1000))
        #expect(narrowed.count == Limits.summaryRows && narrowed.last?.bucketStart == Int64(Limits.summaryRows) - 1)
        await expectLedgerError(.invalidParameterValue, "at least one metric") {
            _ = try await store.aggregate(MetricAggregation(runs: query, metrics: [], bucketing: .steps(1)))
        }
        await expectLedgerError(.invalidParameterValue, "since before until") {
            _ = try await store.aggregate(MetricAggregation(runs: query, metrics: ["x"], bucketing: .steps(1), since: 5, until: 4))
        }
        await expectLedgerError(.invalidParameterValue, "at most 100 metrics") {
            _ = try await store.aggregate(MetricAggregation(runs: query, metrics: (0...100).map { "m\($0)" }, bucketing: .steps(1)))
        }
        await expectLedgerError(.invalidParameterValue, "bucket width") {
            _ = try await store.aggregate(MetricAggregation(runs: query, metrics: ["x"], bucketing: .time(999)))
        }
        await expectLedgerError(.invalidParameterValue) {
            _ = try await store.aggregate(MetricAggregation(runs: query, metrics: ["x"], bucketing: .steps(0)))
        }
        await expectLedgerError(.invalidParameterValue) {
            _ = try await store.aggregate(MetricAggregation(runs: RunQuery(experimentIDs: []), metrics: ["x"], bucketing: .steps(1)))
        }
        try await store.close()
    }
}

/// numpy's default percentile over sorted values, written out as numpy's source does it (`_quantile`, `_lerp`).
func numpy(_ sorted: [Double], _ fraction: Double) -> Double {
    let n = sorted.count
    let virtual = Double(n - 1) * fraction
    let (previous, next, gamma) =
        virtual >= Double(n - 1) ? (n - 1, n - 1, virtual + 1) : (Int(virtual), Int(virtual) + 1, virtual - virtual.rounded(.down))
    let difference = sorted[next] - sorted[previous]
    return gamma >= 0.5 ? sorted[next] - difference * (1 - gamma) : sorted[previous] + difference * gamma
}
