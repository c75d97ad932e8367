import Dispatch
import Synchronization

/// How an aggregation buckets points: by time (a width in milliseconds, aligned to the Unix epoch in UTC) or by step.
public enum AggregateBucketing: Sendable, Equatable, CustomStringConvertible {
    /// Buckets of this many milliseconds; a bucket is named by its first millisecond.
    case time(Int64)
    /// Buckets of this many steps, aligned to step 0; a bucket is named by its first step.
    case steps(Int64)

    /// `1h`, `15m`, `90s`, `1d` (``BucketWidth``) or `steps:N`.
    public init(parsing text: String) throws(LedgerError) {
        guard text.hasPrefix("steps:") else {
            self = .time(try BucketWidth.parse(text))
            return
        }
        guard let width = Int64(text.dropFirst("steps:".count)), width >= 1 else {
            throw LedgerError(.invalidParameterValue, "Invalid step bucket '\(text.prefix(50))': write steps:N with N a whole number from 1.")
        }
        self = .steps(width)
    }

    /// The text ``init(parsing:)`` reads back.
    public var description: String {
        switch self {
        case .time(let width): String(width)
        case .steps(let width): "steps:\(width)"
        }
    }

    /// Whether buckets are of time (named by epoch milliseconds), not of steps.
    public var isTime: Bool {
        if case .time = self { return true }
        return false
    }

    public func validate() throws(LedgerError) {
        switch self {
        case .time(let width): try BucketWidth.check(width)
        case .steps(let width):
            guard width >= 1 else { throw LedgerError(.invalidParameterValue, "Invalid step bucket of \(width) steps: it must be at least 1.") }
        }
    }

    /// The start of the bucket that holds `point`, given the start of the previous point's: a series mostly stays in
    /// a bucket or moves to the next, which needs no division.
    @inline(__always)
    func start(of point: MetricPoint, after previous: Int64?) -> Int64 {
        let (key, width) =
            switch self {
            case .time(let width): (point.timestamp, width)
            case .steps(let width): (point.step, width)
            }
        // Only from a bucket that is a true floor (not the Int64.min catch-all), and never past Int64.max.
        if let previous, previous >= Int64.min + width, key >= previous {
            let distance = UInt64(bitPattern: key &- previous)
            if distance < UInt64(width) { return previous }
            if distance < 2 * UInt64(width) { return previous + width }
        }
        return BucketWidth.start(of: key, width: width)
    }
}

/// Statistics of metrics across runs, per bucket of time or steps and per group (``TrackingStore/aggregate(_:)``).
public struct MetricAggregation: Sendable, Equatable {
    /// The runs: their experiments, filter and view (not their order or page).
    public var runs: RunQuery
    /// The metric keys; each is aggregated on its own.
    public var metrics: [String]
    public var bucketing: AggregateBucketing
    public var groupBy: GroupKey?
    /// Milliseconds since the epoch: points at or after `since` and before `until`.
    public var since: Int64?
    public var until: Int64?

    public init(
        runs: RunQuery, metrics: [String], bucketing: AggregateBucketing, groupBy: GroupKey? = nil, since: Int64? = nil, until: Int64? = nil
    ) {
        self.runs = runs
        self.metrics = metrics
        self.bucketing = bucketing
        self.groupBy = groupBy
        self.since = since
        self.until = until
    }

    public func validate() throws(LedgerError) {
        try runs.validate()
        try bucketing.validate()
        guard !metrics.isEmpty else { throw LedgerError(.invalidParameterValue, "Name at least one metric to aggregate.") }
        guard metrics.count <= Limits.metricsPerAggregation else {
            throw LedgerError(
                .invalidParameterValue, "An aggregation may name at most \(Limits.metricsPerAggregation) metrics; this one names \(metrics.count).")
        }
        for metric in metrics { try Validation.checkKey(metric, kind: "Metric key") }
        if let since, let until, since > until {
            throw LedgerError(.invalidParameterValue, "The time range starts (\(since)) after it ends (\(until)): give since before until.")
        }
    }

    /// The metric keys without repeats, `metrics.total_cost` read as `total_cost`, in UTF-8 order.
    public var keys: [String] {
        Array(Set(metrics.map(Objective.metricName))).sorted(by: UTF8Order.precedes)
    }
}

/// One bucket of one metric and group: statistics of the numbers in it (NaN values are left out; a bucket with none is
/// not reported). Percentiles interpolate linearly between closest ranks, exactly as numpy's default.
public struct AggregateRow: Sendable, Equatable {
    public var metric: String
    /// The param or tag value; nil when ungrouped or when the run has none.
    public var group: String?
    /// Epoch milliseconds for time buckets, the first step for step buckets (Int64.min when not representable).
    public var bucketStart: Int64
    public var count: Int64
    public var sum: Double
    public var mean: Double
    public var min: Double
    public var max: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double

    public init(
        metric: String, group: String?, bucketStart: Int64, count: Int64, sum: Double, mean: Double, min: Double, max: Double, p50: Double,
        p90: Double, p99: Double
    ) {
        (self.metric, self.group, self.bucketStart, self.count) = (metric, group, bucketStart, count)
        (self.sum, self.mean, self.min, self.max, self.p50, self.p90, self.p99) = (sum, mean, min, max, p50, p90, p99)
    }

    /// Equal when every figure has the same bits (NaN equals NaN): what "identical on every backend" means.
    public static func == (a: AggregateRow, b: AggregateRow) -> Bool {
        a.metric == b.metric && a.group == b.group && a.bucketStart == b.bucketStart && a.count == b.count
            && zip(a.figures, b.figures).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }

    private var figures: [Double] { [sum, mean, min, max, p50, p90, p99] }

    /// `{metric, group, bucket_start, count, sum, mean, min, max, p50, p90, p99}`.
    public var json: JSONValue {
        .object([
            ("metric", .string(metric)), ("group", group.map(JSONValue.string) ?? .null), ("bucket_start", .integer(bucketStart)),
            ("count", .integer(count)), ("sum", .number(sum)), ("mean", .number(mean)), ("min", .number(min)), ("max", .number(max)),
            ("p50", .number(p50)), ("p90", .number(p90)), ("p99", .number(p99)),
        ])
    }

    public init(json: JSONValue) throws(LedgerError) {
        func number(_ name: String) throws(LedgerError) -> Double {
            guard let value = json[name]?.double else { throw LedgerError(.internal, "An aggregate in an answer lacks \(name).") }
            return value
        }
        guard let metric = json["metric"]?.text, let start = json["bucket_start"]?.int64, let count = json["count"]?.int64 else {
            throw LedgerError(.internal, "An aggregate in an answer lacks its metric, bucket or count.")
        }
        self.init(
            metric: metric, group: json["group"]?.text, bucketStart: start, count: count, sum: try number("sum"), mean: try number("mean"),
            min: try number("min"), max: try number("max"), p50: try number("p50"), p90: try number("p90"), p99: try number("p99"))
    }
}

/// Strings compared by their UTF-8 bytes: the order SQL's binary collation gives, whatever the normalisation.
public enum UTF8Order {
    public static func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// Groups with a value first, in UTF-8 order; the missing group last.
    public static func precedes(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (let x?, let y?): precedes(x, y)
        case (.some, nil): true
        default: false
        }
    }
}

/// numpy's default percentile (`method="linear"`, Hyndman and Fan's 7th), to the bit: the same virtual index and the
/// same two-sided interpolation, so that infinities give what numpy gives (often NaN).
public enum NumpyPercentile {
    /// The `fraction` (0…1) percentile of `count` values, given the value of rank `k` (0-based, ascending) on demand.
    @inline(__always)
    public static func value(_ fraction: Double, count: Int, rank: (Int) -> Double) -> Double {
        let position = Double(count - 1) * fraction
        let (previous, next) = ranks(fraction, count: count)
        // Past the last index numpy names the last value twice, and measures the weight from index -1.
        let gamma = previous == next ? position + 1 : position - Double(previous)
        let a = rank(previous)
        let b = rank(next)
        let difference = b - a
        return gamma >= 0.5 ? b - difference * (1 - gamma) : a + difference * gamma
    }

    /// The two ranks the `fraction` percentile interpolates between.
    static func ranks(_ fraction: Double, count: Int) -> (Int, Int) {
        let position = Double(count - 1) * fraction
        guard position < Double(count - 1) else { return (count - 1, count - 1) }
        let floor = Int(position.rounded(.down))
        return (floor, floor + 1)
    }
}

/// Gathers the points of an aggregation bucket by bucket and computes its rows; pure, so that every backend gives the
/// same answer from the same points in the same order.
///
/// Percentiles need every number of a bucket, so each is kept (8 bytes); at most ``Limits/aggregatePoints`` of them
/// and ``Limits/summaryRows`` buckets, refused beyond with what to narrow.
public struct AggregateAccumulator: Sendable {
    private let bucketing: AggregateBucketing
    private let since: Int64
    private let until: Int64
    private let metrics: [String]
    private var groups: [String?] = []
    /// By bytes: canonically equivalent strings ("e\u{301}", "\u{E9}") are different stored values, as in SQL.
    private var groupIndex: [[UInt8]?: Int32] = [:]
    /// (metric, group) pairs, and their index by `metric << 32 | group`.
    private var series: [(metric: Int32, group: Int32)] = []
    private var seriesIndex: [Int64: Int32] = [:]
    /// Cells (one per series and bucket), as parallel arrays.
    private var cellSeries: [Int32] = []
    private var cellStart: [Int64] = []
    private var cellValues: [[Double]] = []
    /// (series, bucket start) → cell, by open addressing. Cells never exceed ``Limits/summaryRows``, so a table of
    /// more than three times that many slots stays under a third full and never grows.
    private var slots = [Int32](repeating: -1, count: AggregateAccumulator.slotCount)
    private var points = 0

    static let slotBits = 15
    static let slotCount = 1 << slotBits

    public init(_ aggregation: MetricAggregation) {
        bucketing = aggregation.bucketing
        since = aggregation.since ?? .min
        until = aggregation.until ?? .max
        metrics = aggregation.keys
    }

    /// The metric keys in the order the rows list them; a point is added under one of their indexes.
    public var metricKeys: [String] { metrics }

    /// The index of a group value, for ``add(_:metric:group:)``.
    public mutating func group(_ value: String?) -> Int32 {
        let bytes = value.map { Array($0.utf8) }
        if let index = groupIndex[bytes] { return index }
        let index = Int32(groups.count)
        groups.append(value)
        groupIndex[bytes] = index
        return index
    }

    /// One stored chunk of a page: its metric (an index into ``metricKeys``), its run's group and its bytes.
    public struct StoredChunk: Sendable {
        public var metric: Int
        public var group: Int32
        public var bytes: [UInt8]

        public init(metric: Int, group: Int32, bytes: [UInt8]) {
            (self.metric, self.group, self.bytes) = (metric, group, bytes)
        }
    }

    /// Adds a page of chunks, in their order. A large page is decoded in two halves at once, each into an accumulator
    /// of its own, merged first half first: every bucket gets its numbers in the order of the page, so sums come out
    /// the same bits as one pass would give.
    public mutating func add(page: [StoredChunk]) throws(LedgerError) {
        guard page.count >= 32 else {
            for chunk in page { try add(chunk: chunk.bytes, metric: chunk.metric, group: chunk.group) }
            return
        }
        let empty = emptied()
        let middle = page.count / 2
        let halves = Mutex<[Result<AggregateAccumulator, LedgerError>?]>([nil, nil])
        DispatchQueue.concurrentPerform(iterations: 2) { half in
            var partial = empty
            let outcome = Result { () throws(LedgerError) -> AggregateAccumulator in
                for chunk in half == 0 ? page[..<middle] : page[middle...] {
                    try partial.add(chunk: chunk.bytes, metric: chunk.metric, group: chunk.group)
                }
                return partial
            }
            halves.withLock { $0[half] = outcome }
        }
        for half in halves.withLock({ $0 }) {
            guard let half else { throw LedgerError(.internal, "A half of an aggregation page was not computed.") }
            try merge(try half.get())
        }
    }

    /// This accumulator's settings and groups without any points.
    private func emptied() -> AggregateAccumulator {
        var copy = self
        copy.series = []
        copy.seriesIndex = [:]
        copy.cellSeries = []
        copy.cellStart = []
        copy.cellValues = []
        copy.slots = [Int32](repeating: -1, count: Self.slotCount)
        copy.points = 0
        return copy
    }

    /// Appends another accumulator's numbers, bucket by bucket, after this one's.
    private mutating func merge(_ other: AggregateAccumulator) throws(LedgerError) {
        guard points <= Limits.aggregatePoints - other.points else { throw Self.tooManyPoints }
        points += other.points
        for index in other.cellStart.indices {
            let owner = other.series[Int(other.cellSeries[index])]
            let cell = try self.cell(series: seriesSlot(metric: Int(owner.metric), group: owner.group), start: other.cellStart[index])
            cellValues[cell].append(contentsOf: other.cellValues[index])
        }
    }

    static let tooManyPoints = LedgerError(
        .invalidParameterValue,
        "The aggregation reaches more than \(Limits.aggregatePoints) points, more than one request may hold: narrow the time range or the filter, or name fewer metrics."
    )

    /// Adds the points of one stored chunk of metric `metric` (an index into ``metricKeys``) in group `group`.
    public mutating func add(chunk: [UInt8], metric: Int, group: Int32) throws(LedgerError) {
        let series = seriesSlot(metric: metric, group: group)
        var last: (start: Int64, cell: Int)?
        try MetricChunk.visit(chunk) { (point: MetricPoint) throws(LedgerError) in try add(point, series: series, last: &last) }
    }

    /// Adds some points of metric `metric` in group `group`.
    public mutating func add(_ stretch: [MetricPoint], metric: Int, group: Int32) throws(LedgerError) {
        let series = seriesSlot(metric: metric, group: group)
        var last: (start: Int64, cell: Int)?
        for point in stretch { try add(point, series: series, last: &last) }
    }

    private mutating func seriesSlot(metric: Int, group: Int32) -> Int32 {
        let key = Int64(metric) << 32 | Int64(group)
        if let found = seriesIndex[key] { return found }
        let slot = Int32(series.count)
        series.append((Int32(metric), group))
        seriesIndex[key] = slot
        return slot
    }

    @inline(__always)
    private mutating func add(_ point: MetricPoint, series: Int32, last: inout (start: Int64, cell: Int)?) throws(LedgerError) {
        guard !point.value.isNaN, point.timestamp >= since, point.timestamp < until else { return }
        let start = bucketing.start(of: point, after: last?.start)
        let cell: Int
        if let last, last.start == start {
            cell = last.cell
        } else {
            cell = try self.cell(series: series, start: start)
            last = (start, cell)
        }
        guard points < Limits.aggregatePoints else { throw Self.tooManyPoints }
        points += 1
        cellValues[cell].append(point.value)
    }

    /// The cell of (series, start), made when new.
    private mutating func cell(series: Int32, start: Int64) throws(LedgerError) -> Int {
        let mask = Self.slotCount - 1
        // A multiplicative hash of both halves: bucket starts are multiples of the width, so their low bits say little.
        let mixed = (UInt64(bitPattern: start) &+ UInt64(UInt32(bitPattern: series)) &* 0x9E37_79B9_7F4A_7C15) &* 0xBF58_476D_1CE4_E5B9
        var index = Int(truncatingIfNeeded: mixed >> UInt64(64 - Self.slotBits))
        while true {
            let found = Int(slots[index])
            if found < 0 { break }
            if cellStart[found] == start && cellSeries[found] == series { return found }
            index = (index + 1) & mask
        }
        guard cellStart.count < Limits.summaryRows else {
            throw LedgerError(
                .invalidParameterValue,
                "The aggregation would have more than \(Limits.summaryRows) buckets (metrics × groups × buckets): narrow the time range or the filter, or widen the bucket."
            )
        }
        let cell = cellStart.count
        cellSeries.append(series)
        cellStart.append(start)
        cellValues.append([])
        slots[index] = Int32(cell)
        return cell
    }

    /// The rows, ordered by metric, group (UTF-8 order, the missing group last) and bucket start.
    public mutating func rows() -> [AggregateRow] {
        let order = cellStart.indices.sorted { a, b in
            let (x, y) = (series[Int(cellSeries[a])], series[Int(cellSeries[b])])
            if x.metric != y.metric { return x.metric < y.metric }
            if x.group != y.group { return UTF8Order.precedes(groups[Int(x.group)], groups[Int(y.group)]) }
            return cellStart[a] < cellStart[b]
        }
        // Buckets are independent: two halves at once, each computing the rows of numbers it owns alone (taken out of
        // the cells, so that reordering them copies nothing).
        typealias Item = (metric: String, group: String?, start: Int64, values: [Double])
        let middle = (order.count + 1) / 2
        let inputs = Mutex<[[Item]]>([[], []])
        inputs.withLock { halves in
            for (position, index) in order.enumerated() {
                let owner = series[Int(cellSeries[index])]
                var values: [Double] = []
                swap(&values, &cellValues[index])
                halves[position < middle ? 0 : 1].append((metrics[Int(owner.metric)], groups[Int(owner.group)], cellStart[index], values))
            }
        }
        let outputs = Mutex<[[AggregateRow]]>([[], []])
        DispatchQueue.concurrentPerform(iterations: 2) { half in
            var mine: [Item] = []
            inputs.withLock { swap(&mine, &$0[half]) }
            var rows: [AggregateRow] = []
            rows.reserveCapacity(mine.count)
            for index in mine.indices {
                var values: [Double] = []
                swap(&values, &mine[index].values)
                rows.append(Self.row(&values, metric: mine[index].metric, group: mine[index].group, start: mine[index].start))
            }
            outputs.withLock { $0[half] = rows }
        }
        return outputs.withLock { $0[0] + $0[1] }
    }

    /// The statistics of one bucket's numbers (at least one), which it reorders.
    static func row(_ values: inout [Double], metric: String, group: String?, start: Int64) -> AggregateRow {
        // Summed in the order the points were read, which every backend shares.
        var sum = 0.0
        var low = Double.infinity
        var high = -Double.infinity
        for value in values {
            sum += value
            low = Swift.min(low, value)
            high = Swift.max(high, value)
        }
        let count = values.count
        var selected = Selection(values: values)
        values = []
        let p50 = NumpyPercentile.value(0.50, count: count) { selected.rank($0) }
        let p90 = NumpyPercentile.value(0.90, count: count) { selected.rank($0) }
        let p99 = NumpyPercentile.value(0.99, count: count) { selected.rank($0) }
        return AggregateRow(
            metric: metric, group: group, bucketStart: start, count: Int64(count), sum: sum, mean: sum / Double(count), min: low, max: high,
            p50: p50, p90: p90, p99: p99)
    }
}

/// Order statistics of numbers without NaN by quickselect: asking for ranks in ascending order narrows each search
/// to what lies above the previous answer, so three percentiles cost a few passes, not a sort.
struct Selection {
    private var values: [Double]
    /// Ranks below `settled` are final in place, and every value at or above it is at least as large as them.
    private var settled = 0

    init(values: [Double]) { self.values = values }

    mutating func rank(_ k: Int) -> Double {
        if k < settled { return values[k] }
        if k == settled {
            // The next rank is the smallest of the rest: one scan instead of a selection (p50's neighbour, for one).
            var smallest = k
            for index in (k + 1)..<values.count where values[index] < values[smallest] { smallest = index }
            values.swapAt(k, smallest)
            settled = k + 1
            return values[k]
        }
        var low = settled
        var high = values.count - 1
        while high - low > 16 {
            // The median of three as pivot, then Hoare's partition (Wirth's form).
            let middle = low + (high - low) / 2
            if values[middle] < values[low] { values.swapAt(middle, low) }
            if values[high] < values[low] { values.swapAt(high, low) }
            if values[high] < values[middle] { values.swapAt(high, middle) }
            let pivot = values[middle]
            var i = low
            var j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j {
                high = j
            } else if k >= i {
                low = i
            } else {
                break  // between j and i every value equals the pivot
            }
        }
        if high - low <= 16 { values[low...high].sort() }
        settled = k + 1
        return values[k]
    }
}
