/// The in-memory reference semantics of the filter language. Backends must agree with it; tests compare them.
extension Filter {
    /// Whether `run` satisfies the filter.
    public func matches(_ run: Run) -> Bool {
        switch self {
        case .all: true
        case .comparison(let comparison): comparison.matches(run)
        case .and(let lhs, let rhs): lhs.matches(run) && rhs.matches(run)
        case .or(let lhs, let rhs): lhs.matches(run) || rhs.matches(run)
        case .not(let inner): !inner.matches(run)
        }
    }
}

extension Comparison {
    /// Whether `run` satisfies this comparison; false when the run lacks the key (except for `IS NULL`).
    public func matches(_ run: Run) -> Bool {
        switch field.value(in: run) {
        case nil:
            return comparator == .isNull
        case .some(.number(let number)):
            if comparator == .isNotNull { return true }
            if comparator == .isNull { return false }
            guard case .number(let operand) = literal else { return false }
            return compare(number, operand)
        case .some(.text(let text)):
            return matches(text: text)
        }
    }

    private func compare(_ value: Double, _ operand: Double) -> Bool {
        switch comparator {
        case .equal: value == operand
        case .notEqual: value != operand  // NaN is unequal to everything
        case .less: value < operand
        case .lessOrEqual: value <= operand
        case .greater: value > operand
        case .greaterOrEqual: value >= operand
        default: false
        }
    }

    private func matches(text: String) -> Bool {
        switch (comparator, literal) {
        case (.isNotNull, _): true
        case (.isNull, _): false
        case (.equal, .string(let operand)): text.utf8.elementsEqual(operand.utf8)
        case (.notEqual, .string(let operand)): !text.utf8.elementsEqual(operand.utf8)
        case (.like, .string(let pattern)): LikePattern(pattern, caseInsensitive: false).matches(text)
        case (.ilike, .string(let pattern)): LikePattern(pattern, caseInsensitive: true).matches(text)
        case (.in, .strings(let operands)): operands.contains { text.utf8.elementsEqual($0.utf8) }
        case (.notIn, .strings(let operands)): !operands.contains { text.utf8.elementsEqual($0.utf8) }
        default: false
        }
    }
}

/// A value a field has in a run, as the filter and the ordering see it.
public enum FieldValue: Sendable, Equatable {
    case number(Double)
    case text(String)
}

extension Field {
    /// The field's value in `run`, nil when the run lacks it.
    public func value(in run: Run) -> FieldValue? {
        switch self {
        case .metric(let key): run.latestMetrics[key].map { .number($0.value) }
        case .param(let key): run.params[key].map { .text($0) }
        case .tag(let key): run.tags[key].map { .text($0) }
        case .attribute(let attribute):
            switch attribute {
            case .runID: .text(run.info.runID.rawValue)
            case .runName: .text(run.info.name)
            case .status: .text(run.info.status.rawValue)
            case .userID: .text(run.info.userID)
            case .artifactURI: .text(run.info.artifactURI)
            case .startTime: .number(Double(run.info.startTime))
            case .endTime: run.info.endTime.map { .number(Double($0)) }
            }
        }
    }
}

/// SQL `LIKE` matching over Unicode scalars: `%` any run, `_` one character, no escape character.
/// ILIKE ignores the case of ASCII letters only, as SQLite does.
struct LikePattern {
    private let pattern: [Unicode.Scalar]
    private let caseInsensitive: Bool

    init(_ pattern: String, caseInsensitive: Bool) {
        self.caseInsensitive = caseInsensitive
        self.pattern = pattern.unicodeScalars.map { caseInsensitive ? LikePattern.fold($0) : $0 }
    }

    static func fold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
    }

    func matches(_ text: String) -> Bool {
        wildcardMatch(pattern, text.unicodeScalars.map { caseInsensitive ? LikePattern.fold($0) : $0 }, anyRun: "%", anyOne: "_")
    }
}

/// Wildcard matching over scalars, iterative with backtracking to the last `anyRun`: SQL LIKE (`%`, `_`) and the
/// retention policies' globs (`*`, `?`) both use it.
func wildcardMatch(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar], anyRun: Unicode.Scalar, anyOne: Unicode.Scalar) -> Bool {
    var t = 0
    var p = 0
    var starP = -1
    var starT = 0
    while t < text.count {
        if p < pattern.count, pattern[p] == anyOne || (pattern[p] != anyRun && pattern[p] == text[t]) {
            t += 1
            p += 1
        } else if p < pattern.count, pattern[p] == anyRun {
            starP = p
            starT = t
            p += 1
        } else if starP >= 0 {
            p = starP + 1
            starT += 1
            t = starT
        } else {
            return false
        }
    }
    while p < pattern.count, pattern[p] == anyRun { p += 1 }
    return p == pattern.count
}
