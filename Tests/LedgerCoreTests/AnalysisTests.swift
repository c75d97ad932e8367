import LedgerCore
import Testing

@Suite("Analysis: statistics, Pareto fronts, downsampled histories")
struct AnalysisTests {
    @Test("summary statistics match a direct computation on random data; NaN is left out")
    func summary() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let values = (0..<Int.random(in: 1...60, using: &generator)).map { _ in Double.random(in: -1e6...1e6, using: &generator).rounded() }
            let summary = try #require(Summary(values + [.nan]))
            let sorted = values.sorted()
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.count > 1 ? values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1) : 0
            #expect(summary.count == values.count && summary.min == sorted.first && summary.max == sorted.last)
            #expect(abs(summary.mean - mean) <= 1e-6 * max(1, abs(mean)))
            #expect(abs(summary.stddev - variance.squareRoot()) <= 1e-6 * max(1, variance.squareRoot()))
            // Closest-rank interpolation, as numpy.percentile computes it.
            for (fraction, value) in [(0.5, summary.p50), (0.9, summary.p90), (0.99, summary.p99)] {
                let rank = fraction * Double(sorted.count - 1)
                let low = sorted[Int(rank)]
                let high = sorted[min(Int(rank) + 1, sorted.count - 1)]
                #expect(abs(value - (low + (high - low) * (rank - rank.rounded(.down)))) <= 1e-6 * max(1, abs(value)))
            }
        }
        #expect(Summary([1, 2, 3, 4])?.p50 == 2.5)
        #expect(Summary([Double]()) == nil && Summary([.nan]) == nil)
    }

    /// The definition, checked pair by pair.
    func bruteForceFront(_ points: [[Double]], _ goals: [Goal]) -> [Int] {
        func better(_ a: Double, _ b: Double, _ goal: Goal) -> Bool { goal == .minimize ? a < b : a > b }
        func dominates(_ a: [Double], _ b: [Double]) -> Bool {
            zip(zip(a, b), goals).allSatisfy { pair, goal in !better(pair.1, pair.0, goal) }
                && zip(zip(a, b), goals).contains { better($0.0, $0.1, $1) }
        }
        return points.indices.filter { index in
            !points[index].contains(where: \.isNaN)
                && !points.indices.contains { other in !points[other].contains(where: \.isNaN) && dominates(points[other], points[index]) }
        }
    }

    @Test("the Pareto front equals the brute-force definition for 2 and 3 objectives, ties and NaN included")
    func pareto() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            let dimensions = round % 3 == 0 ? 3 : 2
            let goals = (0..<dimensions).map { _ in Goal.allCases.randomElement(using: &generator)! }
            // Few distinct values, so that ties and duplicates are common.
            let points = (0..<Int.random(in: 0...40, using: &generator)).map { _ in
                (0..<dimensions).map { _ in
                    Int.random(in: 0..<20, using: &generator) == 0 ? Double.nan : Double(Int.random(in: 0..<8, using: &generator))
                }
            }
            #expect(try ParetoFront.indexes(of: points, goals: goals) == bruteForceFront(points, goals), "\(points) \(goals)")
        }
        #expect(try ParetoFront.indexes(of: [[1, 5], [2, 2], [3, 1], [3, 3], [1, 5]], goals: [.minimize, .minimize]) == [0, 1, 2, 4])
        #expect(try ParetoFront.indexes(of: [[1, 5], [2, 2], [3, 1]], goals: [.minimize, .maximize]) == [0])
    }

    @Test("downsampling keeps every point in exactly one bucket, at most K buckets, with the right min/max/mean/last")
    func downsample() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var step: Int64 = Int64.random(in: -5...5, using: &generator)
            let points = (0..<Int.random(in: 0...500, using: &generator)).map { index -> MetricPoint in
                step += Int64.random(in: 0...3, using: &generator)
                let value = Int.random(in: 0..<30, using: &generator) == 0 ? Double.nan : Double.random(in: -10...10, using: &generator)
                return MetricPoint(value: value, timestamp: Int64(index), step: step)
            }
            let maximum = Int.random(in: 1...60, using: &generator)
            let buckets = HistoryBucket.downsample(points, maximum: maximum)
            #expect(buckets.count <= max(maximum, 0) && buckets.map(\.count).reduce(0, +) == points.count)
            var offset = 0
            for bucket in buckets {
                let members = points[offset..<offset + bucket.count]
                offset += bucket.count
                let numbers = members.map(\.value).filter { !$0.isNaN }
                #expect(members.allSatisfy { (bucket.firstStep...bucket.lastStep).contains($0.step) })
                #expect(bucket.lastStep == members.last?.step)
                #expect(bucket.last.isNaN ? members.last!.value.isNaN : bucket.last == members.last!.value)
                if numbers.isEmpty {
                    #expect(bucket.min.isNaN && bucket.max.isNaN && bucket.mean.isNaN)
                } else {
                    #expect(bucket.min == numbers.min() && bucket.max == numbers.max())
                    #expect(abs(bucket.mean - numbers.reduce(0, +) / Double(numbers.count)) < 1e-9)
                }
            }
            // Buckets do not overlap.
            #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.lastStep < $1.firstStep || points.count <= maximum })
        }
    }
}
