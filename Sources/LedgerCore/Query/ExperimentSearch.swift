/// MLflow's experiment search: a filter of `name`, `creation_time`, `last_update_time` and `tags.KEY` conditions
/// joined by AND, an ordering, and offset pages. Experiments are few, so the search runs in memory over a listing.
///
/// ```swift
/// let search = try ExperimentSearch(filter: "name LIKE 'energy%' AND tags.team = 'grid'", orderBy: ["name ASC"])
/// let page = try search.page(of: experiments, maxResults: 100, pageToken: nil)
/// ```
public struct ExperimentSearch: Sendable {
    enum Field: Equatable {
        case name
        case creationTime
        case lastUpdateTime
        case experimentID
        case tag(String)
    }

    struct Condition {
        var field: Field
        var comparator: Comparator
        var value: Literal
    }

    private let conditions: [Condition]
    private let order: [(field: Field, ascending: Bool)]

    /// Parses the filter and order-by texts.
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` naming the column and what was expected there.
    public init(filter: String?, orderBy: [String]) throws(LedgerError) {
        conditions = try Self.parseFilter(filter ?? "")
        var order: [(field: Field, ascending: Bool)] = []
        for text in orderBy.isEmpty ? ["creation_time DESC"] : orderBy {
            order.append(try Self.parseOrder(text))
        }
        // A total order, so that offset pages neither repeat nor skip an experiment.
        if !order.contains(where: { $0.field == .experimentID }) { order.append((.experimentID, true)) }
        self.order = order
    }

    /// The experiments that match, in order, one page at a time; the token is the offset of the next page.
    public func page(of experiments: [Experiment], maxResults: Int, pageToken: String?) throws(LedgerError) -> (
        experiments: [Experiment], nextPageToken: String?
    ) {
        guard (1...Limits.maxSearchResults).contains(maxResults) else {
            throw LedgerError(
                .invalidParameterValue,
                "Invalid value \(maxResults) for parameter 'max_results': it must be between 1 and \(Limits.maxSearchResults)."
            )
        }
        var offset = 0
        if let pageToken, !pageToken.isEmpty {
            guard let value = Int(pageToken), value >= 0 else {
                throw LedgerError(.invalidParameterValue, "Invalid page token '\(pageToken)': pass the next_page_token of a previous search.")
            }
            offset = value
        }
        let matching = experiments.filter(matches).sorted(by: precedes)
        let page = Array(matching.dropFirst(offset).prefix(maxResults))
        let next = offset + page.count < matching.count ? String(offset + page.count) : nil
        return (page, next)
    }

    /// Whether the experiment satisfies every condition.
    public func matches(_ experiment: Experiment) -> Bool {
        conditions.allSatisfy { condition in
            switch condition.field {
            case .name: return Self.compare(text: experiment.name, condition)
            case .tag(let key): return experiment.tags[key].map { Self.compare(text: $0, condition) } ?? false
            case .creationTime: return Self.compare(number: Double(experiment.creationTime), condition)
            case .lastUpdateTime: return Self.compare(number: Double(experiment.lastUpdateTime), condition)
            case .experimentID: return Self.compare(number: Double(experiment.id.rawValue), condition)
            }
        }
    }

    private func precedes(_ lhs: Experiment, _ rhs: Experiment) -> Bool {
        for (field, ascending) in order {
            let ordering: Int
            switch field {
            case .name: ordering = lhs.name == rhs.name ? 0 : (lhs.name < rhs.name ? -1 : 1)
            case .creationTime: ordering = lhs.creationTime == rhs.creationTime ? 0 : (lhs.creationTime < rhs.creationTime ? -1 : 1)
            case .lastUpdateTime:
                ordering = lhs.lastUpdateTime == rhs.lastUpdateTime ? 0 : (lhs.lastUpdateTime < rhs.lastUpdateTime ? -1 : 1)
            case .experimentID: ordering = lhs.id == rhs.id ? 0 : (lhs.id < rhs.id ? -1 : 1)
            case .tag: ordering = 0
            }
            if ordering != 0 { return ascending ? ordering < 0 : ordering > 0 }
        }
        return false
    }

    private static func compare(text: String, _ condition: Condition) -> Bool {
        guard case .string(let value) = condition.value else { return false }
        switch condition.comparator {
        case .equal: return text == value
        case .notEqual: return text != value
        case .like: return LikePattern(value, caseInsensitive: false).matches(text)
        case .ilike: return LikePattern(value, caseInsensitive: true).matches(text)
        default: return false
        }
    }

    private static func compare(number: Double, _ condition: Condition) -> Bool {
        guard case .number(let value) = condition.value else { return false }
        switch condition.comparator {
        case .equal: return number == value
        case .notEqual: return number != value
        case .less: return number < value
        case .lessOrEqual: return number <= value
        case .greater: return number > value
        case .greaterOrEqual: return number >= value
        default: return false
        }
    }

    private static func field(prefix: String?, key: String, column: Int) throws(LedgerError) -> Field {
        switch (prefix?.lowercased(), key) {
        case (nil, "name"), ("attribute", "name"), ("attributes", "name"): return .name
        case (nil, "creation_time"), ("attribute", "creation_time"), ("attributes", "creation_time"): return .creationTime
        case (nil, "last_update_time"), ("attribute", "last_update_time"), ("attributes", "last_update_time"): return .lastUpdateTime
        case (nil, "experiment_id"), ("attribute", "experiment_id"), ("attributes", "experiment_id"): return .experimentID
        case ("tag", _), ("tags", _): return .tag(key)
        default:
            throw LedgerError(
                .invalidParameterValue,
                "Invalid experiment search key '\(prefix.map { $0 + "." } ?? "")\(key)' at column \(column). Valid keys are name, "
                    + "creation_time, last_update_time, experiment_id and tags.KEY.",
                column: column
            )
        }
    }

    private static func parseFilter(_ text: String) throws(LedgerError) -> [Condition] {
        var lexer = Lexer(text)
        let tokens: [Token]
        do { tokens = try lexer.tokenize() } catch { throw LedgerError(.invalidParameterValue, error.message, column: error.column) }
        var index = 0
        var conditions: [Condition] = []
        func fail(_ expectation: String) -> LedgerError {
            let column = tokens[index].column
            return LedgerError(.invalidParameterValue, "Invalid experiment filter at column \(column): \(expectation).", column: column)
        }
        while tokens[index].kind != .end {
            if !conditions.isEmpty {
                guard tokens[index].kind == .keyword("AND") else { throw fail("expected AND between conditions (OR is not supported here)") }
                index += 1
            }
            guard case .identifier(let prefix, let key) = tokens[index].kind else { throw fail("expected name, a time or tags.KEY") }
            let field = try field(prefix: prefix, key: key, column: tokens[index].column)
            index += 1
            let comparator: Comparator
            switch tokens[index].kind {
            case .symbol(let symbol):
                guard let parsed = Comparator(rawValue: symbol) else { throw fail("expected a comparison") }
                comparator = parsed
            case .keyword("LIKE"): comparator = .like
            case .keyword("ILIKE"): comparator = .ilike
            default: throw fail("expected =, !=, <, <=, >, >=, LIKE or ILIKE")
            }
            index += 1
            let value: Literal
            switch (field, tokens[index].kind) {
            case (.name, .string(let text)), (.tag, .string(let text)):
                guard [.equal, .notEqual, .like, .ilike].contains(comparator) else { throw fail("names and tags compare with =, !=, LIKE or ILIKE") }
                value = .string(text)
            case (.creationTime, .number(let number)), (.lastUpdateTime, .number(let number)), (.experimentID, .number(let number)):
                guard ![.like, .ilike].contains(comparator) else { throw fail("times and ids compare with =, !=, <, <=, > or >=") }
                value = .number(number)
            case (.experimentID, .string(let text)) where Double(text) != nil:
                value = .number(Double(text)!)
            case (.name, _), (.tag, _): throw fail("expected a quoted string")
            default: throw fail("expected a number")
            }
            index += 1
            conditions.append(Condition(field: field, comparator: comparator, value: value))
        }
        return conditions
    }

    private static func parseOrder(_ text: String) throws(LedgerError) -> (field: Field, ascending: Bool) {
        var lexer = Lexer(text)
        guard let tokens = try? lexer.tokenize(), case .identifier(let prefix, let key) = tokens.first?.kind else {
            throw LedgerError(.invalidParameterValue, "Invalid order_by clause '\(text)': expected a key and an optional ASC or DESC.")
        }
        let field = try field(prefix: prefix, key: key, column: 1)
        if case .tag = field {
            throw LedgerError(.invalidParameterValue, "Invalid order_by clause '\(text)': experiments cannot be ordered by a tag.")
        }
        switch tokens.dropFirst().first?.kind {
        case .end?: return (field, true)
        case .keyword("ASC")? where tokens.count == 3: return (field, true)
        case .keyword("DESC")? where tokens.count == 3: return (field, false)
        default: throw LedgerError(.invalidParameterValue, "Invalid order_by clause '\(text)': expected a key and an optional ASC or DESC.")
        }
    }
}
