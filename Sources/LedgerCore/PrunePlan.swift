/// One pass of a retention policy as a state machine: it says what to read or remove next, a store does it with its
/// own SQL and answers, until the pass is ``Action/finished(_:)``.
///
/// The pass removes old events first, then visits each (run, key) pair the policy covers in the latest-metrics
/// table's order: points older than the age limit (in the step ranges of the spans that began before the cutoff),
/// then all but the newest `maxPointsPerKey`. It stops when the budget is spent and says where the next pass goes on.
/// A dry run counts instead of removing, with no budget.
public struct PrunePlan: Sendable {
    /// What the store does next.
    public enum Action: Sendable, Equatable {
        /// Answer ``Answer/kinds(_:)`` with every distinct event kind.
        case listEventKinds
        /// Remove (dry run: count) up to `limit` events of these kinds older than `before` in the policy's
        /// experiment; answer ``Answer/count(_:)``.
        case removeEvents(kinds: [String], before: Int64, limit: Int)
        /// Answer ``Answer/pairs(_:)`` with up to `limit` (run, key) pairs of the policy's experiment from the
        /// latest-metrics table, in (run, key) order, after `(run, key)` (or from it, when `inclusive`).
        case listPairs(run: Int64, key: String, inclusive: Bool, limit: Int)
        /// Answer ``Answer/spans(_:)`` with the pair's spans whose oldest point is older than `before`.
        case listSpans(run: Int64, key: String, startedBefore: Int64)
        /// Remove (dry run: count) up to `limit` of the pair's points in `steps` older than
        /// `before`; answer ``Answer/count(_:)``.
        case removeOldPoints(run: Int64, key: String, steps: ClosedRange<Int64>, before: Int64, limit: Int)
        /// Delete the pair's spans whose newest point is older than `before`; answer ``Answer/done``.
        case dropSpans(run: Int64, key: String, endedBefore: Int64)
        /// Answer ``Answer/count(_:)`` with the number of the pair's points not older than `since` (dry runs only).
        case countPoints(run: Int64, key: String, since: Int64)
        /// Answer ``Answer/point(_:)`` with the pair's point at `offset` from the newest in history order
        /// (0 = the newest), or nil when the history is shorter.
        case findNewest(run: Int64, key: String, offset: Int)
        /// Remove up to `limit` of the pair's points that precede `point` in history order, oldest first; answer
        /// ``Answer/count(_:)``.
        case removePointsBefore(run: Int64, key: String, point: MetricPoint, limit: Int)
        /// Delete the pair's spans that end before `step`; answer ``Answer/done``.
        case dropSpansBefore(run: Int64, key: String, step: Int64)
        /// The pass is over.
        case finished(PruneCount)
    }

    /// What the store found or did.
    public enum Answer: Sendable {
        case done
        case kinds([String])
        case count(Int)
        case pairs([(run: Int64, key: String)])
        case spans([MetricSpan])
        case point(MetricPoint?)
    }

    /// Pairs asked for per read, so that a pass over every experiment never holds all of them at once.
    public static let pairPage = 500

    public let policy: RetentionPolicy
    /// Whether removals only count.
    public let dryRun: Bool
    /// The policy's experiment, or nil for every experiment.
    public var experimentID: Int64? { policy.experimentID?.rawValue }
    private let now: Int64
    private let budget: Int
    private var count = PruneCount()
    private var state: State

    private enum State {
        case start(PruneCursor)
        case eventKinds
        case events
        case pairs(lastPage: (run: Int64, key: String))
        case pair(Pair)
        case over
    }

    /// Where one pair stands.
    private struct Pair {
        var run: Int64
        var key: String
        /// Pairs of the current page still to visit.
        var queue: ArraySlice<(run: Int64, key: String)>
        var pageWasFull: Bool
        /// The page's last pair, where the next page starts.
        var pageLast: (run: Int64, key: String)
        var removed = 0
        var step = Step.spans
        var ranges: [ClosedRange<Int64>] = []
        var boundary: MetricPoint?

        enum Step { case spans, ranges, dropOld, keep, removeBefore, dropBefore }
    }

    /// Starts a pass at `resume` (nil: the beginning), removing at most `budget` points and events.
    /// - Throws: ``LedgerError`` for an invalid policy or resume position.
    public init(_ policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, resume: String?) throws(LedgerError) {
        try policy.validate()
        self.policy = policy
        self.now = now
        self.dryRun = dryRun
        self.budget = dryRun ? Int.max : max(1, budget)
        self.state = .start(try PruneCursor(resume))
    }

    private var remaining: Int { budget - count.events - count.points }

    /// The first action of the pass.
    public mutating func start() -> Action { advance(.done) }

    /// The action that follows the answer to the previous one.
    public mutating func next(_ answer: Answer) -> Action { advance(answer) }

    private mutating func advance(_ answer: Answer) -> Action {
        switch state {
        case .start(let cursor):
            if case .events = cursor, policy.maxAge != nil {
                state = .eventKinds
                return .listEventKinds
            }
            var from: (Int64, String) = (.min, "")
            if case .pair(let run, let key) = cursor { from = (run, key) }
            return listPairs(after: from, inclusive: true)

        case .eventKinds:
            let kinds = answer.kinds.filter(policy.covers)
            guard !kinds.isEmpty, let maxAge = policy.maxAge else { return listPairs(after: (.min, ""), inclusive: true) }
            state = .events
            return .removeEvents(kinds: kinds, before: RetentionPolicy.cutoff(now, maxAge), limit: budget)

        case .events:
            count.events = answer.number
            if remaining <= 0 { return finish(resume: PruneCursor.events.text) }
            return listPairs(after: (.min, ""), inclusive: true)

        case .pairs(let lastPage):
            let page = answer.pairList
            return visit(page[...], pageWasFull: page.count == Self.pairPage, after: page.last ?? lastPage)

        case .pair(var pair):
            return step(&pair, answer)

        case .over:
            return .finished(count)
        }
    }

    private mutating func listPairs(after: (Int64, String), inclusive: Bool) -> Action {
        state = .pairs(lastPage: after)
        return .listPairs(run: after.0, key: after.1, inclusive: inclusive, limit: Self.pairPage)
    }

    /// Goes to the next covered pair of the page, the next page, or the end.
    private mutating func visit(_ queue: ArraySlice<(run: Int64, key: String)>, pageWasFull: Bool, after: (run: Int64, key: String)) -> Action {
        var queue = queue
        while let next = queue.popFirst() {
            guard policy.covers(next.key) else { continue }
            var pair = Pair(run: next.run, key: next.key, queue: queue, pageWasFull: pageWasFull, pageLast: after)
            return begin(&pair)
        }
        guard pageWasFull else { return finish(resume: nil) }
        return listPairs(after: after, inclusive: false)
    }

    private mutating func begin(_ pair: inout Pair) -> Action {
        if let maxAge = policy.maxAge {
            pair.step = .spans
            state = .pair(pair)
            return .listSpans(run: pair.run, key: pair.key, startedBefore: RetentionPolicy.cutoff(now, maxAge))
        }
        return keep(&pair)
    }

    private mutating func step(_ pair: inout Pair, _ answer: Answer) -> Action {
        switch pair.step {
        case .spans:
            pair.ranges = MetricSpan.stepRanges(answer.spanList)
            pair.step = .ranges
            return nextRange(&pair)
        case .ranges:
            take(answer.number, &pair)
            return nextRange(&pair)
        case .dropOld:
            return keep(&pair)
        case .keep:
            if dryRun {
                let left = answer.number
                take(max(0, left - (policy.maxPointsPerKey ?? left)), &pair)
                return endPair(&pair)
            }
            guard case .point(let boundary?) = answer else { return endPair(&pair) }
            pair.boundary = boundary
            pair.step = .removeBefore
            state = .pair(pair)
            return .removePointsBefore(run: pair.run, key: pair.key, point: boundary, limit: remaining)
        case .removeBefore:
            take(answer.number, &pair)
            guard remaining > 0, let boundary = pair.boundary else { return endPair(&pair) }
            pair.step = .dropBefore
            state = .pair(pair)
            return .dropSpansBefore(run: pair.run, key: pair.key, step: boundary.step)
        case .dropBefore:
            return endPair(&pair)
        }
    }

    private mutating func take(_ removed: Int, _ pair: inout Pair) {
        count.points += removed
        pair.removed += removed
    }

    private mutating func nextRange(_ pair: inout Pair) -> Action {
        if remaining > 0, !pair.ranges.isEmpty, let maxAge = policy.maxAge {
            let steps = pair.ranges.removeFirst()
            state = .pair(pair)
            return .removeOldPoints(run: pair.run, key: pair.key, steps: steps, before: RetentionPolicy.cutoff(now, maxAge), limit: remaining)
        }
        // A span wholly older than the cutoff holds nothing any more once the pass got through.
        if !dryRun, remaining > 0, let maxAge = policy.maxAge {
            pair.step = .dropOld
            state = .pair(pair)
            return .dropSpans(run: pair.run, key: pair.key, endedBefore: RetentionPolicy.cutoff(now, maxAge))
        }
        return keep(&pair)
    }

    private mutating func keep(_ pair: inout Pair) -> Action {
        guard let keep = policy.maxPointsPerKey, remaining > 0 else { return endPair(&pair) }
        pair.step = .keep
        state = .pair(pair)
        if dryRun {
            return .countPoints(run: pair.run, key: pair.key, since: policy.maxAge.map { RetentionPolicy.cutoff(now, $0) } ?? .min)
        }
        return .findNewest(run: pair.run, key: pair.key, offset: keep - 1)
    }

    private mutating func endPair(_ pair: inout Pair) -> Action {
        // The budget ran out in this pair: the next pass starts with it again, as it may have points left.
        if remaining <= 0 { return finish(resume: PruneCursor.pair(run: pair.run, key: pair.key).text) }
        return visit(pair.queue, pageWasFull: pair.pageWasFull, after: pair.pageLast)
    }

    private mutating func finish(resume: String?) -> Action {
        count.resume = resume
        state = .over
        return .finished(count)
    }
}

extension PrunePlan.Answer {
    fileprivate var number: Int { if case .count(let value) = self { value } else { 0 } }
    fileprivate var kinds: [String] { if case .kinds(let value) = self { value } else { [] } }
    fileprivate var pairList: [(run: Int64, key: String)] { if case .pairs(let value) = self { value } else { [] } }
    fileprivate var spanList: [MetricSpan] { if case .spans(let value) = self { value } else { [] } }
}
