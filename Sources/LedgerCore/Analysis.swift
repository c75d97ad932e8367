/// Summary statistics of a set of values (NaN values are left out, as a KPI that failed to compute says nothing).
public struct Summary: Sendable, Equatable {
    public var count: Int
    public var mean: Double
    /// The sample standard deviation (n − 1); 0 for a single value.
    public var stddev: Double
    public var min: Double
    public var max: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double

    public init(count: Int, mean: Double, stddev: Double, min: Double, max: Double, p50: Double, p90: Double, p99: Double) {
        (self.count, self.mean, self.stddev, self.min, self.max) = (count, mean, stddev, min, max)
        (self.p50, self.p90, self.p99) = (p50, p90, p99)
    }

    /// Nil when no value is a number.
    public init?(_ values: some Sequence<Double>) {
        let sorted = values.filter { !$0.isNaN }.sorted()
        guard let first = sorted.first, let last = sorted.last else { return nil }
        count = sorted.count
        // Welford's update, so that large values of similar size do not cancel.
        var mean = 0.0
        var squares = 0.0
        for (index, value) in sorted.enumerated() {
            let delta = value - mean
            mean += delta / Double(index + 1)
            squares += delta * (value - mean)
        }
        self.mean = mean
        stddev = count > 1 ? (squares / Double(count - 1)).squareRoot() : 0
        min = first
        max = last
        p50 = Self.percentile(sorted, 0.50)
        p90 = Self.percentile(sorted, 0.90)
        p99 = Self.percentile(sorted, 0.99)
    }

    /// Linear interpolation between closest ranks (numpy's default, to the bit), over sorted values.
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        NumpyPercentile.value(fraction, count: sorted.count) { sorted[$0] }
    }
}

/// Whether an objective of a Pareto front is to be made small or large.
public enum Goal: String, Sendable, CaseIterable {
    case minimize, maximize
}

/// The Pareto front: the points no other point dominates (at least as good in every objective, better in one).
public enum ParetoFront {
    /// Dominance checks one front may take with three or more objectives: enough for fronts of thousands among
    /// hundreds of thousands of runs, and a bound on the time one request can hold a thread.
    public static let comparisonBudget = 50_000_000

    /// Indexes of the non-dominated points, in input order. A point with a missing (NaN) objective, or with fewer
    /// values than `goals`, is never on the front. Two objectives take O(n log n) (a sort and one sweep); more take
    /// O(n log n + n · f · k) for a front of f points.
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` when three or more objectives need more than
    ///   ``comparisonBudget`` dominance checks.
    public static func indexes(of points: [[Double]], goals: [Goal]) throws(LedgerError) -> [Int] {
        // Flip maximised objectives so that smaller is better everywhere.
        let candidates = points.indices.filter { points[$0].count == goals.count && !points[$0].contains(where: \.isNaN) }
        let oriented = points.map { point in zip(point, goals).map { $1 == .minimize ? $0 : -$0 } }
        if goals.count == 2 { return twoObjectives(candidates, oriented) }
        // In lexicographic order a point can only be dominated by points before it, and whatever dominates it is
        // dominated by (or is) a point already on the front: checking the front so far is enough.
        let order = candidates.sorted { oriented[$0].lexicographicallyPrecedes(oriented[$1]) }
        var front: [Int] = []
        var checks = 0
        for index in order {
            checks += front.count
            guard checks <= comparisonBudget else {
                throw LedgerError(
                    .invalidParameterValue,
                    "This Pareto front over \(goals.count) objectives and \(candidates.count) runs needs more than \(comparisonBudget) comparisons: narrow the filter or use two objectives."
                )
            }
            if !front.contains(where: { dominates(oriented[$0], oriented[index]) }) { front.append(index) }
        }
        return front.sorted()
    }

    static func dominates(_ a: [Double], _ b: [Double]) -> Bool {
        var better = false
        for (x, y) in zip(a, b) {
            if x > y { return false }
            if x < y { better = true }
        }
        return better
    }

    /// Sorted by (first, second), a point is dominated exactly when some strictly smaller point has a second objective
    /// no larger than its own; equal points neither dominate each other nor escape what dominates one of them.
    private static func twoObjectives(_ candidates: [Int], _ points: [[Double]]) -> [Int] {
        let order = candidates.sorted { (points[$0][0], points[$0][1]) < (points[$1][0], points[$1][1]) }
        var front: [Int] = []
        var lowestSecondBefore = Double.infinity
        var groupStart = 0
        while groupStart < order.count {
            let point = points[order[groupStart]]
            var groupEnd = groupStart
            while groupEnd < order.count, points[order[groupEnd]] == point { groupEnd += 1 }
            if lowestSecondBefore > point[1] { front.append(contentsOf: order[groupStart..<groupEnd]) }
            lowestSecondBefore = Swift.min(lowestSecondBefore, point[1])
            groupStart = groupEnd
        }
        return front.sorted()
    }
}

/// One bucket of a downsampled history: the points whose step falls in `firstStep...lastStep`.
public struct HistoryBucket: Sendable, Equatable {
    public var firstStep: Int64
    public var lastStep: Int64
    public var count: Int
    public var min: Double
    public var max: Double
    public var mean: Double
    /// The value of the bucket's last point (by step, then timestamp).
    public var last: Double
}

extension HistoryBucket {
    /// At most `maximum` buckets of equal step width over a history ordered by step (as ``TrackingStore`` returns
    /// it); NaN points count but do not move min, max or mean (a bucket of only NaN has NaN there). A history
    /// with no more points than `maximum` gives one bucket per point.
    public static func downsample(_ points: [MetricPoint], maximum: Int) -> [HistoryBucket] {
        guard let first = points.first else { return [] }
        let lowest = points.lazy.map(\.step).min() ?? first.step
        let highest = points.lazy.map(\.step).max() ?? first.step
        var builder = HistoryBuckets(lowest: lowest, highest: highest, points: points.count, maximum: maximum)
        for point in points { builder.add(point) }
        return builder.buckets
    }
}

/// Builds ``HistoryBucket``s from a history in step order, a point at a time or, where a stretch of points (a chunk)
/// lies in one bucket, from its summary without decoding it.
public struct HistoryBuckets: Sendable {
    private let lowest: Int64
    /// Width in steps; 0 only when one bucket spans all 2^64 steps.
    private let width: UInt64
    private let perPoint: Bool
    private var list: [HistoryBucket] = []
    private var sum = 0.0
    private var numbers = 0

    /// Buckets for `points` points whose steps run from `lowest` to `highest`, at most `maximum` of them.
    public init(lowest: Int64, highest: Int64, points: Int, maximum: Int) {
        self.lowest = lowest
        // Steps may span the whole Int64 range, so widths and offsets are unsigned distances from the lowest step.
        let span = UInt64(bitPattern: highest &- lowest)
        perPoint = points <= maximum
        // Width in steps, rounded up so that `maximum` buckets cover the whole span.
        // Wraps to 0 only when one bucket spans all 2^64 steps (maximum 1, extreme steps): then every point is in it.
        width = perPoint || maximum < 1 ? 1 : span / UInt64(maximum) &+ 1
    }

    /// The first step of the bucket `step` falls in.
    public func bucketStart(_ step: Int64) -> Int64 {
        width == 0 ? lowest : lowest &+ Int64(bitPattern: UInt64(bitPattern: step &- lowest) / width * width)
    }

    /// Whether a stretch from `firstStep` to `lastStep` can be added whole (``add(_:)-summary``): it lies in one bucket.
    public func holdsWhole(firstStep: Int64, lastStep: Int64) -> Bool { !perPoint && bucketStart(firstStep) == bucketStart(lastStep) }

    private mutating func open(_ start: Int64, last: Double, step: Int64) {
        if list.last?.firstStep != start || perPoint {
            closeMean()
            list.append(HistoryBucket(firstStep: start, lastStep: step, count: 0, min: .nan, max: .nan, mean: .nan, last: last))
            sum = 0
            numbers = 0
        }
    }

    private mutating func closeMean() {
        if let index = list.indices.last { list[index].mean = numbers > 0 ? sum / Double(numbers) : .nan }
    }

    private mutating func include(min low: Double?, max high: Double?) {
        let index = list.count - 1
        if let low { list[index].min = list[index].min.isNaN ? low : Swift.min(list[index].min, low) }
        if let high { list[index].max = list[index].max.isNaN ? high : Swift.max(list[index].max, high) }
    }

    /// The next point in step order.
    public mutating func add(_ point: MetricPoint) {
        open(bucketStart(point.step), last: point.value, step: point.step)
        let index = list.count - 1
        list[index].count += 1
        list[index].lastStep = point.step
        list[index].last = point.value
        if !point.value.isNaN {
            include(min: point.value, max: point.value)
            sum += point.value
            numbers += 1
        }
    }

    /// The next stretch of points in step order, from its summary; it must lie in one bucket (``holdsWhole(firstStep:lastStep:)``)
    /// and its sum must be known (not NaN).
    public mutating func add(_ summary: ChunkSummary) {
        open(bucketStart(summary.firstStep), last: summary.lastValue, step: summary.lastStep)
        let index = list.count - 1
        // Counts come from stored rows: wrapping, so that a damaged one gives a wrong figure, never a trap.
        list[index].count &+= summary.count
        list[index].lastStep = summary.lastStep
        list[index].last = summary.lastValue
        include(min: summary.min, max: summary.max)
        sum += summary.sum
        numbers &+= summary.count &- summary.nanCount
    }

    /// The buckets so far.
    public var buckets: [HistoryBucket] {
        var copy = self
        copy.closeMean()
        return copy.list
    }
}

/// A KPI summarised over a group of runs: `group` is the param or tag value, nil when ungrouped or when the run has
/// no such param or tag.
public struct GroupSummary: Sendable, Equatable {
    public var group: String?
    public var summary: Summary

    public init(group: String?, summary: Summary) {
        self.group = group
        self.summary = summary
    }

    /// `{group, count, mean, stddev, min, max, p50, p90, p99}`, as `runledger stats` and `runs/statistics` write it.
    public var json: JSONValue {
        let s = summary
        return .object([
            ("group", group.map(JSONValue.string) ?? .null), ("count", .integer(Int64(s.count))), ("mean", .number(s.mean)),
            ("stddev", .number(s.stddev)), ("min", .number(s.min)), ("max", .number(s.max)), ("p50", .number(s.p50)), ("p90", .number(s.p90)),
            ("p99", .number(s.p99)),
        ])
    }

    public init(json: JSONValue) throws(LedgerError) {
        var figures: [Double] = []
        for name in ["mean", "stddev", "min", "max", "p50", "p90", "p99"] {
            guard let value = json[name]?.double else { throw LedgerError(.internal, "A group's statistics in an answer lack \(name).") }
            figures.append(value)
        }
        guard let count = json["count"]?.int64, let size = Int(exactly: count) else {
            throw LedgerError(.internal, "A group's statistics in an answer lack a count.")
        }
        let summary = Summary(
            count: size, mean: figures[0], stddev: figures[1], min: figures[2], max: figures[3], p50: figures[4], p90: figures[5], p99: figures[6])
        self.init(group: json["group"]?.text, summary: summary)
    }

    /// One summary per group of the values, sorted by group, the values without a group last.
    public static func grouped(_ values: [(group: String?, value: Double)]) -> [GroupSummary] {
        var groups: [String?: [Double]] = [:]
        for (group, value) in values { groups[group, default: []].append(value) }
        return groups.compactMap { group, values in Summary(values).map { GroupSummary(group: group, summary: $0) } }
            .sorted { a, b in
                switch (a.group, b.group) {
                case (let x?, let y?): x < y
                case (.some, nil): true
                default: false
                }
            }
    }
}

/// One run on a convergence chart (``TrackingStore/trend(_:metric:goal:groupBy:)``).
public struct TrendPoint: Sendable, Equatable {
    public var runID: RunID
    public var runName: String
    public var startTime: Int64
    /// The run's value of the grouping param or tag; nil when ungrouped or the run lacks it.
    public var group: String?
    /// The run's latest value of the metric.
    public var value: Double
    /// The best value so far in the run's group, this run included; nil while every value was NaN.
    public var bestSoFar: Double?

    public init(runID: RunID, runName: String, startTime: Int64, group: String?, value: Double, bestSoFar: Double?) {
        (self.runID, self.runName, self.startTime, self.group, self.value, self.bestSoFar) = (runID, runName, startTime, group, value, bestSoFar)
    }

    public init(json: JSONValue) throws(LedgerError) {
        guard let runID = json["run_id"]?.text.flatMap(RunID.init), let start = json["start_time"]?.int64, let value = json["value"]?.double else {
            throw LedgerError(.internal, "A trend point in an answer lacks its run, start time or value.")
        }
        self.init(
            runID: runID, runName: json["run_name"]?.text ?? "", startTime: start, group: json["group"]?.text, value: value,
            bestSoFar: json["best_so_far"]?.double)
    }

    /// `{run_id, run_name, start_time, group, value, best_so_far}`.
    public var json: JSONValue {
        .object([
            ("run_id", .string(runID.rawValue)), ("run_name", .string(runName)), ("start_time", .integer(startTime)),
            ("group", group.map(JSONValue.string) ?? .null), ("value", .number(value)), ("best_so_far", bestSoFar.map(JSONValue.number) ?? .null),
        ])
    }
}

/// How runs are grouped for statistics: by a param or a tag.
public enum GroupKey: Sendable, Equatable, CustomStringConvertible {
    case param(String)
    case tag(String)

    /// `params.NAME` or `tags.NAME`, as ``init(parsing:)`` reads it.
    public var description: String {
        switch self {
        case .param(let name): "params." + name
        case .tag(let name): "tags." + name
        }
    }

    /// `params.NAME` or `tags.NAME` (also with MLflow's `param.`/`tag.` spellings).
    public init(parsing text: String) throws(LedgerError) {
        guard let (prefix, key) = EntityName.split(text), !key.isEmpty else {
            throw LedgerError(.invalidParameterValue, "Cannot group by '\(text.prefix(100))': write params.NAME or tags.NAME.")
        }
        switch prefix {
        case "params", "param", "parameters", "parameter": self = .param(key)
        case "tags", "tag": self = .tag(key)
        default: throw LedgerError(.invalidParameterValue, "Cannot group by '\(text.prefix(100))': write params.NAME or tags.NAME.")
        }
    }

    func value(in run: Run) -> String? {
        switch self {
        case .param(let name): run.params[name]
        case .tag(let name): run.tags[name]
        }
    }
}

/// A KPI to minimise or maximise on a Pareto front.
public struct Objective: Sendable, Equatable {
    public var metric: String
    public var goal: Goal

    public init(metric: String, goal: Goal) {
        self.metric = Objective.metricName(metric)
        self.goal = goal
    }

    /// `total_cost` or `metrics.total_cost` both name the metric total_cost.
    public static func metricName(_ text: String) -> String {
        if let (prefix, key) = EntityName.split(text), prefix == "metrics" || prefix == "metric" { return key }
        return text
    }
}

/// Names such as `params.KEY`, split by their bytes.
public enum EntityName {
    /// `prefix.key` split at the first `.`, by UTF-8 bytes: a key that begins with a combining mark stays whole
    /// (Swift's `Character` view would merge the mark into the dot, and `params.` would no longer be a prefix).
    public static func split(_ text: String) -> (prefix: String, key: String)? {
        let utf8 = text.utf8
        guard let dot = utf8.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        return (String(decoding: utf8[..<dot], as: UTF8.self), String(decoding: utf8[utf8.index(after: dot)...], as: UTF8.self))
    }
}

extension TrackingStore {
    /// Every run a query matches, page after page (its maxResults and pageToken are ignored).
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` past `limit` runs, rather than exhausting memory.
    public func allRuns(_ query: RunQuery, limit: Int = 1_000_000) async throws -> [Run] {
        var query = query
        query.maxResults = Limits.maxSearchResults
        query.pageToken = nil
        var runs: [Run] = []
        while true {
            let page = try await searchRuns(query)
            runs += page.runs
            guard runs.count <= limit else {
                throw LedgerError(.invalidParameterValue, "The filter matches more than \(limit) runs; narrow it down.")
            }
            guard let token = page.nextPageToken else { return runs }
            query.pageToken = token
        }
    }

    /// Statistics of `metric`'s latest value over the runs `query` matches, one row per group (sorted, runs without
    /// the param or tag last); runs without the metric are left out.
    public func statistics(_ query: RunQuery, metric: String, groupBy: GroupKey?) async throws -> [GroupSummary] {
        let name = Objective.metricName(metric)
        var values: [(group: String?, value: Double)] = []
        for run in try await allRuns(query) {
            guard let point = run.latestMetrics[name] else { continue }
            values.append((groupBy.flatMap { $0.value(in: run) }, point.value))
        }
        return GroupSummary.grouped(values)
    }

    /// Convergence: every run `query` matches that has `metric`, in start-time order (ties by run id), with its latest
    /// value and the best value (by `goal`) of it and every earlier run, per group of `groupBy` when given. A NaN value
    /// is listed but never best.
    public func trend(_ query: RunQuery, metric: String, goal: Goal, groupBy: GroupKey?) async throws -> [TrendPoint] {
        let name = Objective.metricName(metric)
        var query = query
        query.orderBy = [OrderKey(.attribute(.startTime), ascending: true)]
        var best: [String?: Double] = [:]
        var points: [TrendPoint] = []
        for run in try await allRuns(query) {
            guard let value = run.latestMetrics[name]?.value else { continue }
            let group = groupBy.flatMap { $0.value(in: run) }
            if !value.isNaN, best[group].map({ goal == .minimize ? value < $0 : value > $0 }) ?? true { best[group] = value }
            points.append(
                TrendPoint(
                    runID: run.info.runID, runName: run.info.name, startTime: run.info.startTime, group: group, value: value, bestSoFar: best[group]))
        }
        return points
    }

    /// The runs `query` matches that no other such run dominates on `objectives`, ordered by the first objective
    /// (best first). Runs missing any of the metrics are left out.
    public func paretoFront(_ query: RunQuery, objectives: [Objective]) async throws -> [Run] {
        guard objectives.count >= 2 else {
            throw LedgerError(.invalidParameterValue, "A Pareto front needs at least two objectives; got \(objectives.count).")
        }
        var runs: [Run] = []
        var points: [[Double]] = []
        for run in try await allRuns(query) {
            let values = objectives.compactMap { run.latestMetrics[$0.metric]?.value }
            if values.count == objectives.count {
                runs.append(run)
                points.append(values)
            }
        }
        let front = try ParetoFront.indexes(of: points, goals: objectives.map(\.goal))
        let first = objectives[0]
        return front.sorted { a, b in
            let (x, y) = (points[a][0], points[b][0])
            return x != y ? (first.goal == .minimize ? x < y : x > y) : runs[a].info.runID.rawValue < runs[b].info.runID.rawValue
        }.map { runs[$0] }
    }
}
