import Foundation

/// A run attribute that filters and orderings can name (`attributes.start_time`).
public enum RunAttribute: String, Sendable, CaseIterable, Hashable {
    case runID = "run_id"
    case runName = "run_name"
    case status
    case userID = "user_id"
    case artifactURI = "artifact_uri"
    case startTime = "start_time"
    case endTime = "end_time"

    /// Whether the attribute holds a number (milliseconds) rather than a string.
    public var isNumeric: Bool { self == .startTime || self == .endTime }

    /// Whether a run may lack a value (only the end time of a run that has not ended).
    public var isOptional: Bool { self == .endTime }

    /// Parses an attribute name, accepting MLflow's aliases (`run_uuid`, `created`).
    public init?(name: String) {
        switch name.lowercased() {
        case "run_uuid": self = .runID
        case "created": self = .startTime
        default:
            guard let attribute = RunAttribute(rawValue: name.lowercased()) else { return nil }
            self = attribute
        }
    }
}

/// What a comparison or an ordering looks at.
public enum Field: Sendable, Hashable, CustomStringConvertible {
    case metric(String)
    case param(String)
    case tag(String)
    case attribute(RunAttribute)

    /// The field written so that the parser reads it back unchanged (keys quoted with backticks when needed).
    public var description: String {
        switch self {
        case .metric(let key): "metrics." + quoteKey(key)
        case .param(let key): "params." + quoteKey(key)
        case .tag(let key): "tags." + quoteKey(key)
        case .attribute(let attribute): "attributes." + attribute.rawValue
        }
    }

    /// Whether the field holds numbers (metrics and time attributes) rather than strings.
    public var isNumeric: Bool {
        switch self {
        case .metric: true
        case .param, .tag: false
        case .attribute(let attribute): attribute.isNumeric
        }
    }
}

private func quoteKey(_ key: String) -> String {
    let plain =
        !key.isEmpty && key.unicodeScalars.allSatisfy { Lexer.isIdentifierScalar($0) }
        && key.unicodeScalars.first.map(Lexer.isIdentifierStart) == true
    return plain ? key : "`" + key.replacingOccurrences(of: "`", with: "``") + "`"
}

/// A comparison operator of the filter language.
public enum Comparator: String, Sendable, CaseIterable, Hashable {
    case equal = "="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case like = "LIKE"
    case ilike = "ILIKE"
    case `in` = "IN"
    case notIn = "NOT IN"
    case isNull = "IS NULL"
    case isNotNull = "IS NOT NULL"

    /// The comparators a field of this kind accepts.
    public static func allowed(for field: Field) -> [Comparator] {
        switch field {
        case .metric: [.equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual, .isNull, .isNotNull]
        case .param, .tag: [.equal, .notEqual, .like, .ilike, .in, .notIn, .isNull, .isNotNull]
        case .attribute(let attribute) where attribute.isNumeric:
            [.equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual] + (attribute.isOptional ? [.isNull, .isNotNull] : [])
        case .attribute: [.equal, .notEqual, .like, .ilike, .in, .notIn]
        }
    }
}

/// The right-hand side of a comparison.
public enum Literal: Sendable, Hashable, CustomStringConvertible {
    case number(Double)
    case string(String)
    case numbers([Double])
    case strings([String])
    /// For `IS NULL` and `IS NOT NULL`.
    case none

    public var description: String {
        switch self {
        case .number(let value): formatNumber(value)
        case .string(let value): quoteString(value)
        case .numbers(let values): "(" + values.map(formatNumber).joined(separator: ", ") + ")"
        case .strings(let values): "(" + values.map(quoteString).joined(separator: ", ") + ")"
        case .none: ""
        }
    }
}

private func formatNumber(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
}

private func quoteString(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }

/// One `field comparator literal` test, e.g. `metrics.total_cost < 100`.
public struct Comparison: Sendable, Hashable, CustomStringConvertible {
    public var field: Field
    public var comparator: Comparator
    public var literal: Literal

    public init(_ field: Field, _ comparator: Comparator, _ literal: Literal) {
        self.field = field
        self.comparator = comparator
        self.literal = literal
    }

    public var description: String {
        literal == .none ? "\(field) \(comparator.rawValue)" : "\(field) \(comparator.rawValue) \(literal)"
    }
}

/// A parsed filter: comparisons combined with `and`, `or`, `not`.
///
/// Semantics, the same in every backend and in the in-memory evaluator:
/// a comparison on a key that a run lacks is false (`IS NULL` is how to ask for missing keys),
/// `not` negates that two-valued result, NaN metric values are unequal to everything.
public indirect enum Filter: Sendable, Hashable, CustomStringConvertible {
    /// Matches every run (the empty filter).
    case all
    case comparison(Comparison)
    case and(Filter, Filter)
    case or(Filter, Filter)
    case not(Filter)

    /// The filter written so that ``FilterParser`` reads it back to an equal value, with only the parentheses the
    /// tree needs: a filter the parser accepted stays within ``Limits/filterNesting`` when written back.
    public var description: String { written(in: .top) }

    private enum Position { case top, orLeft, orRight, andLeft, andRight, negated }

    private func written(in position: Position) -> String {
        switch self {
        case .all: return ""
        case .comparison(let comparison): return comparison.description
        case .not(let inner): return "not " + inner.written(in: .negated)
        case .or(let lhs, let rhs):
            // `or` binds loosest and groups to the left: only a right-hand `or` or an operand of and/not needs parentheses.
            let text = lhs.written(in: .orLeft) + " or " + rhs.written(in: .orRight)
            return [.top, .orLeft].contains(position) ? text : "(\(text))"
        case .and(let lhs, let rhs):
            let text = lhs.written(in: .andLeft) + " and " + rhs.written(in: .andRight)
            return [.andRight, .negated].contains(position) ? "(\(text))" : text
        }
    }

    /// Combines two filters with `and`, dropping `.all`.
    public static func && (lhs: Filter, rhs: Filter) -> Filter {
        if lhs == .all { return rhs }
        if rhs == .all { return lhs }
        return .and(lhs, rhs)
    }
}

/// One ordering key: a field and a direction. Missing values sort last in both directions.
public struct OrderKey: Sendable, Hashable, CustomStringConvertible {
    public var field: Field
    public var ascending: Bool

    public init(_ field: Field, ascending: Bool = true) {
        self.field = field
        self.ascending = ascending
    }

    public var description: String { "\(field) \(ascending ? "ASC" : "DESC")" }

    /// MLflow's default: newest runs first.
    public static let defaultOrder = [OrderKey(.attribute(.startTime), ascending: false)]
}

/// A search request: which experiments, which runs, in which order, which page.
public struct RunQuery: Sendable, Equatable {
    public var experimentIDs: [ExperimentID]
    public var filter: Filter
    /// Empty means ``OrderKey/defaultOrder``. Ties are broken as MLflow breaks them: by start time, newest first (unless
    /// an order key is the start time), then by run id, ascending.
    public var orderBy: [OrderKey]
    public var maxResults: Int
    /// The token of the previous page's ``RunPage/nextPageToken``.
    public var pageToken: String?
    public var view: ViewType

    public init(
        experimentIDs: [ExperimentID], filter: Filter = .all, orderBy: [OrderKey] = [], maxResults: Int = 1000, pageToken: String? = nil,
        view: ViewType = .activeOnly
    ) {
        self.experimentIDs = experimentIDs
        self.filter = filter
        self.orderBy = orderBy
        self.maxResults = maxResults
        self.pageToken = pageToken
        self.view = view
    }

    /// The ordering actually applied: the requested keys, then MLflow's start-time tie-break (the run id breaks the rest).
    public var effectiveOrder: [OrderKey] {
        orderBy.contains { $0.field == .attribute(.startTime) } ? orderBy : orderBy + OrderKey.defaultOrder
    }

    /// Refuses requests no backend should run.
    public func validate() throws(LedgerError) {
        guard !experimentIDs.isEmpty else {
            throw LedgerError(.invalidParameterValue, "A run search needs at least one experiment id.")
        }
        guard experimentIDs.count <= Limits.experimentsPerSearch else {
            throw LedgerError(
                .invalidParameterValue,
                "A run search may name at most \(Limits.experimentsPerSearch) experiments; this one names \(experimentIDs.count)."
            )
        }
        guard orderBy.count <= Limits.orderKeys else {
            throw LedgerError(.invalidParameterValue, "order_by may hold at most \(Limits.orderKeys) keys; this one holds \(orderBy.count).")
        }
        guard (1...Limits.maxSearchResults).contains(maxResults) else {
            throw LedgerError(
                .invalidParameterValue,
                "Invalid value \(maxResults) for max_results: it must be between 1 and \(Limits.maxSearchResults)."
            )
        }
    }
}
