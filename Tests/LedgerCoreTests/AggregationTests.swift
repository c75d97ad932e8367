import EnergySimulation
import Testing

@testable import LedgerCore

@Suite("Aggregation rules")
struct AggregationTests {
    @Test("order statistics by selection equal the sorted values, asked in the order percentiles ask them")
    func selection() {
        var random = SeededGenerator(seed: 5)
        for round in 0..<2000 {
            let count = 1 + Int(random.next() % (round < 1500 ? 40 : 3000))
            // Few distinct values (ties everywhere), sometimes infinities, sometimes all equal.
            let distinct = 1 + Int(random.next() % 12)
            let values = (0..<count).map { _ -> Double in
                let pick = Int(random.next() % UInt64(distinct + 2))
                return pick == distinct ? .infinity : pick == distinct + 1 ? -.infinity : Double(pick) - 3.5
            }
            let sorted = values.sorted()
            var selection = Selection(values: values)
            for fraction in [0.5, 0.9, 0.99] {
                let (low, high) = NumpyPercentile.ranks(fraction, count: count)
                #expect(selection.rank(low) == sorted[low] && selection.rank(high) == sorted[high], "round \(round): \(values)")
            }
        }
    }

    @Test("percentiles follow numpy's formula, infinities included")
    func percentiles() {
        // Figures printed by numpy 2.4 (np.percentile) for these inputs.
        let cases: [([Double], Double, Double)] = [
            ([1, 2, 3, 4], 0.99, 3.9699999999999998), ([0.1, 0.2, 0.3], 0.9, 0.28), ([5], 0.99, 5), ([1, .infinity], 0.5, .nan),
            ([.infinity], 0.5, .nan), ([-.infinity, 1], 0.5, -.infinity), ([-.infinity, 1], 0, .nan), ([1, 2], 1, 2),
        ]
        for (sorted, fraction, expected) in cases {
            let got = NumpyPercentile.value(fraction, count: sorted.count) { sorted[$0] }
            #expect(got == expected || (got.isNaN && expected.isNaN), "\(sorted) at \(fraction): \(got)")
        }
    }

    @Test("buckets are named as `1h` or `steps:N`; anything else is refused with the forms to use")
    func bucketing() throws {
        #expect(try AggregateBucketing(parsing: "1h") == .time(3_600_000))
        #expect(try AggregateBucketing(parsing: "90s") == .time(90_000))
        #expect(try AggregateBucketing(parsing: "steps:24") == .steps(24))
        #expect(try AggregateBucketing(parsing: "steps:9223372036854775807") == .steps(.max))
        #expect(try AggregateBucketing(parsing: AggregateBucketing.time(60_000).description) == .time(60_000))
        for bad in ["", "soon", "0s", "999", "steps:", "steps:0", "steps:-3", "steps:1.5", "steps:9223372036854775808", "3651d", "steps: 4"] {
            #expect(throws: LedgerError.self, "\(bad)") { try AggregateBucketing(parsing: bad) }
        }
    }

    @Test("a bucket's start is the floor to a multiple of its width for every Int64, with no overflow at any width")
    func bucketStarts() {
        var random = SeededGenerator(seed: 9)
        let edges: [Int64] = [.min, .min + 1, -1, 0, 1, .max - 1, .max]
        let widths: [Int64] = [1, 2, 3, 1000, 3_600_000, BucketWidth.maximum, .max / 2, .max / 2 + 1, .max - 1, .max]
        for _ in 0..<20_000 {
            let value = random.next() % 4 == 0 ? edges[Int(random.next() % 7)] : Int64(bitPattern: random.next())
            let width = random.next() % 3 == 0 ? widths[Int(random.next() % UInt64(widths.count))] : Int64(1 + random.next() % 100_000)
            let start = BucketWidth.start(of: value, width: width)
            // The shortcut from the previous point's bucket agrees, whatever that bucket was.
            let span = UInt64(width) > UInt64.max / 3 ? UInt64.max : UInt64(width) * 3
            let nearby = value &- Int64(bitPattern: random.next() % 4 == 0 ? random.next() : random.next() % span)
            let previous = random.next() % 5 == 0 ? Int64.min : BucketWidth.start(of: nearby, width: width)
            let point = MetricPoint(value: 0, timestamp: value, step: value)
            #expect(AggregateBucketing.time(width).start(of: point, after: previous) == start, "\(value) \(width) after \(previous)")
            #expect(AggregateBucketing.steps(width).start(of: point, after: previous) == start)
            if value < Int64.min + width {
                #expect(start == .min)
            } else {
                // The floor: a multiple of the width at or below the value, less than one width below it.
                #expect(start % width == 0 && start <= value && value - start < width, "\(value) \(width) -> \(start)")
            }
        }
    }

    @Test("the accumulator keeps canonically equal but different group values apart and orders groups by bytes")
    func groupsByBytes() throws {
        let query = RunQuery(experimentIDs: [ExperimentID(1)])
        var accumulator = AggregateAccumulator(MetricAggregation(runs: query, metrics: ["x"], bucketing: .steps(10)))
        let groups = ["\u{E9}", "e\u{301}", "Zeta", "alpha"].map { accumulator.group($0) } + [accumulator.group(nil)]
        for (index, group) in groups.enumerated() {
            try accumulator.add(
                [MetricPoint(value: Double(index), timestamp: 0, step: 0), MetricPoint(value: .nan, timestamp: 0, step: 1)], metric: 0, group: group)
        }
        let rows = accumulator.rows()
        // By bytes: Swift's `==` would call the last two equal.
        #expect(rows.map { $0.group.map { Array($0.utf8) } } == ["Zeta", "alpha", "e\u{301}", "\u{E9}", nil].map { $0.map { Array($0.utf8) } })
        #expect(rows.map(\.count) == [1, 1, 1, 1, 1], "NaN points are left out")
    }

    @Test("a page decoded in two halves at once gives the same bits as chunk after chunk, sums included")
    func pageInHalves() throws {
        var random = SeededGenerator(seed: 3)
        let query = RunQuery(experimentIDs: [ExperimentID(1)])
        let aggregation = MetricAggregation(runs: query, metrics: ["a", "b"], bucketing: .time(60_000), groupBy: .param("p"))
        var whole = AggregateAccumulator(aggregation)
        var paged = AggregateAccumulator(aggregation)
        var page: [AggregateAccumulator.StoredChunk] = []
        for index in 0..<150 {
            // Values of very different sizes, so that the order of addition shows in the sums' last bits.
            let points = (0..<Int(1 + random.next() % 90)).map { step in
                MetricPoint(
                    value: Double(Int64(bitPattern: random.next()) >> Int64(random.next() % 60)) / 7, timestamp: Int64(random.next() % 3_600_000),
                    step: Int64(step))
            }
            let group = ["x", "y", nil][index % 3]
            let chunk = AggregateAccumulator.StoredChunk(metric: index % 2, group: whole.group(group), bytes: MetricChunk.encode(points))
            _ = paged.group(group)
            try whole.add(chunk: chunk.bytes, metric: chunk.metric, group: chunk.group)
            page.append(chunk)
        }
        try paged.add(page: page)
        let (expected, got) = (whole.rows(), paged.rows())
        #expect(expected.count > 100 && got == expected)
    }
}
