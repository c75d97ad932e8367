/// The small filter language of MLflow's experiment and logged-model searches: `FIELD OP VALUE` conditions joined by
/// AND, where a field compares as text (`=`, `!=`, `LIKE`, `ILIKE`) or as a number (`=`, `!=`, `<`, `<=`, `>`, `>=`).
/// Such searches run in memory over a listing; each names its fields through `resolve`.
struct SimpleFilter<Field: Sendable>: Sendable {
    enum Kind {
        case text
        case number
    }

    struct Condition: Sendable {
        var field: Field
        var comparator: Comparator
        var value: Literal
    }

    let conditions: [Condition]

    /// Parses `text`; `resolve` turns `prefix.key` at a column into a field and its kind, or throws naming the keys.
    /// `subject` names what is searched in error messages ("experiment filter").
    init(_ text: String, subject: String, resolve: (String?, String, Int) throws(LedgerError) -> (Field, Kind)) throws(LedgerError) {
        var lexer = Lexer(text)
        let tokens: [Token]
        do { tokens = try lexer.tokenize() } catch { throw LedgerError(.invalidParameterValue, error.message, column: error.column) }
        var index = 0
        var conditions: [Condition] = []
        func fail(_ expectation: String) -> LedgerError {
            let column = tokens[index].column
            return LedgerError(.invalidParameterValue, "Invalid \(subject) at column \(column): \(expectation).", column: column)
        }
        while tokens[index].kind != .end {
            if !conditions.isEmpty {
                guard tokens[index].kind == .keyword("AND") else { throw fail("expected AND between conditions (OR is not supported here)") }
                index += 1
            }
            guard case .identifier(let prefix, let key) = tokens[index].kind else { throw fail("expected a key") }
            let (field, kind) = try resolve(prefix, key, tokens[index].column)
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
            switch (kind, tokens[index].kind) {
            case (.text, .string(let text)):
                guard [.equal, .notEqual, .like, .ilike].contains(comparator) else { throw fail("text compares with =, !=, LIKE or ILIKE") }
                value = .string(text)
            case (.number, .number(let number)):
                guard ![.like, .ilike].contains(comparator) else { throw fail("numbers compare with =, !=, <, <=, > or >=") }
                value = .number(number)
            case (.number, .string(let text)):
                guard let number = Double(text), ![.like, .ilike].contains(comparator) else { throw fail("expected a number") }
                value = .number(number)
            case (.text, _): throw fail("expected a quoted string")
            case (.number, _): throw fail("expected a number")
            }
            index += 1
            conditions.append(Condition(field: field, comparator: comparator, value: value))
        }
        self.conditions = conditions
    }

    /// Whether every condition holds; `value` gives a field's text or number (nil when absent, which never matches).
    func matches(_ value: (Field) -> Literal?) -> Bool {
        conditions.allSatisfy { condition in
            switch (value(condition.field), condition.value) {
            case (.string(let text)?, .string(let wanted)):
                switch condition.comparator {
                case .equal: return text == wanted
                case .notEqual: return text != wanted
                case .like: return LikePattern(wanted, caseInsensitive: false).matches(text)
                case .ilike: return LikePattern(wanted, caseInsensitive: true).matches(text)
                default: return false
                }
            case (.number(let number)?, .number(let wanted)):
                switch condition.comparator {
                case .equal: return number == wanted
                case .notEqual: return number != wanted
                case .less: return number < wanted
                case .lessOrEqual: return number <= wanted
                case .greater: return number > wanted
                case .greaterOrEqual: return number >= wanted
                default: return false
                }
            default: return false
            }
        }
    }

    /// Parses one order-by clause, `KEY [ASC|DESC]`.
    static func order(_ text: String, resolve: (String?, String, Int) throws(LedgerError) -> (Field, Kind)) throws(LedgerError) -> (
        field: Field, ascending: Bool
    ) {
        var lexer = Lexer(text)
        guard let tokens = try? lexer.tokenize(), case .identifier(let prefix, let key) = tokens.first?.kind else {
            throw LedgerError(.invalidParameterValue, "Invalid order_by clause '\(text)': expected a key and an optional ASC or DESC.")
        }
        let (field, _) = try resolve(prefix, key, 1)
        switch tokens.dropFirst().first?.kind {
        case .end?: return (field, true)
        case .keyword("ASC")? where tokens.count == 3: return (field, true)
        case .keyword("DESC")? where tokens.count == 3: return (field, false)
        default: throw LedgerError(.invalidParameterValue, "Invalid order_by clause '\(text)': expected a key and an optional ASC or DESC.")
        }
    }

    /// Offset pages over `items`, which are already filtered and sorted; the token is the offset of the next page.
    static func page<Item>(_ items: [Item], maxResults: Int, pageToken: String?) throws(LedgerError) -> (items: [Item], nextPageToken: String?) {
        guard (1...Limits.maxSearchResults).contains(maxResults) else {
            throw LedgerError(
                .invalidParameterValue,
                "Invalid value \(maxResults) for parameter 'max_results': it must be between 1 and \(Limits.maxSearchResults)."
            )
        }
        var offset = 0
        if let pageToken, !pageToken.isEmpty {
            guard let value = Int(pageToken), value >= 0 else {
                throw LedgerError(
                    .invalidParameterValue, "Invalid page token '\(pageToken.prefix(100))': pass the next_page_token of a previous search.")
            }
            offset = value
        }
        let page = Array(items.dropFirst(offset).prefix(maxResults))
        let next = offset + page.count < items.count ? String(offset + page.count) : nil
        return (page, next)
    }
}
