import LedgerCore
import Testing

@Suite("MetricKeySummary: the per-key view of a write that both backends ingest through")
struct MetricKeySummaryTests {
    /// The definition, with a dictionary per question.
    func expected(_ metrics: [Metric]) -> (keys: [String], spans: [String: MetricSpan], latest: [String: MetricPoint]) {
        var keys: [String] = []
        var spans: [String: MetricSpan] = [:]
        var latest: [String: MetricPoint] = [:]
        for metric in metrics {
            let point = metric.point
            if let span = spans[metric.key] {
                spans[metric.key] = MetricSpan(
                    firstStep: min(span.firstStep, point.step), lastStep: max(span.lastStep, point.step),
                    minTimestamp: min(span.minTimestamp, point.timestamp), maxTimestamp: max(span.maxTimestamp, point.timestamp)
                )
            } else {
                keys.append(metric.key)
                spans[metric.key] = MetricSpan(
                    firstStep: point.step, lastStep: point.step, minTimestamp: point.timestamp, maxTimestamp: point.timestamp)
            }
            if latest[metric.key].map({ point.supersedes($0) }) ?? true { latest[metric.key] = point }
        }
        return (keys, spans, latest)
    }

    @Test("keys, indices, points per key and latest points match a direct computation, with few keys (scanned) and many (hashed)")
    func matchesDefinition() {
        var generator = SystemRandomNumberGenerator()
        for keyCount in [1, 3, 16, 17, 40] {
            for _ in 0..<50 {
                let metrics = (0..<Int.random(in: 1...400, using: &generator)).map { _ in
                    Metric(
                        key: "key_\(Int.random(in: 0..<keyCount, using: &generator))",
                        value: Int.random(in: 0..<10, using: &generator) == 0 ? .nan : Double(Int.random(in: -5...5, using: &generator)),
                        timestamp: Int64.random(in: 0...20, using: &generator), step: Int64.random(in: -3...8, using: &generator)
                    )
                }
                let summary = MetricKeySummary(metrics)
                let truth = expected(metrics)
                #expect(summary.keys == truth.keys)
                #expect(summary.keyIndices.count == metrics.count)
                #expect(zip(metrics, summary.keyIndices).allSatisfy { $0.key == summary.keys[$1] })
                let grouped = summary.points(metrics)
                for (index, key) in summary.keys.enumerated() {
                    #expect(grouped[index].map { "\($0)" } == metrics.filter { $0.key == key }.map { "\($0.point)" })
                    let point = summary.latest[index]
                    let best = truth.latest[key]!
                    #expect(
                        point.step == best.step && point.timestamp == best.timestamp
                            && (point.value == best.value || (point.value.isNaN && best.value.isNaN)))
                }
            }
        }
        #expect(MetricKeySummary([Metric]()).keys.isEmpty)
    }
}
