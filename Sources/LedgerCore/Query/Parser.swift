/// Parses the filter language: MLflow's filter strings plus `or`, `not` and parentheses.
///
/// ```swift
/// let filter = try Filter.parse("metrics.total_cost < 100 and params.solver_type = 'hybrid'")
/// ```
extension Filter {
    /// Parses filter text; empty or blank text matches every run.
    /// - Throws: ``LedgerError/Code/malformedQuery`` naming the column and what was expected there.
    public static func parse(_ text: String) throws(LedgerError) -> Filter {
        var parser = try QueryParser(text)
        if parser.current.kind == .end { return .all }
        let filter = try parser.parseOr()
        try parser.expectEnd("expected 'and', 'or' or the end after a complete condition")
        return filter
    }
}

extension OrderKey {
    /// Parses one ordering such as `metrics.total_cost ASC`, `params.solver_type DESC` or `start_time`.
    /// - Throws: ``LedgerError/Code/malformedQuery`` naming the column and what was expected there.
    public static func parse(_ text: String) throws(LedgerError) -> OrderKey {
        var parser = try QueryParser(text)
        let field = try parser.parseField()
        var ascending = true
        if case .keyword(let word) = parser.current.kind, word == "ASC" || word == "DESC" {
            ascending = word == "ASC"
            parser.advance()
        }
        try parser.expectEnd("expected the end after an order key and an optional ASC or DESC")
        return OrderKey(field, ascending: ascending)
    }
}

struct QueryParser {
    private let tokens: [Token]
    private var position = 0
    private var depth = 0
    private var comparisons = 0

    init(_ text: String) throws(LedgerError) {
        var lexer = Lexer(text)
        tokens = try lexer.tokenize()
    }

    var current: Token { tokens[position] }

    mutating func advance() { position = min(position + 1, tokens.count - 1) }

    func expectEnd(_ expectation: String) throws(LedgerError) {
        guard current.kind != .end else { return }
        throw error(expectation)
    }

    mutating func parseOr() throws(LedgerError) -> Filter {
        var result = try parseAnd()
        while isKeyword("OR") {
            advance()
            result = .or(result, try parseAnd())
        }
        return result
    }

    mutating func parseAnd() throws(LedgerError) -> Filter {
        var result = try parseUnary()
        while isKeyword("AND") {
            advance()
            result = .and(result, try parseUnary())
        }
        return result
    }

    mutating func parseUnary() throws(LedgerError) -> Filter {
        if isKeyword("NOT") || current.kind == .symbol("(") {
            depth += 1
            guard depth <= Limits.filterNesting else {
                throw LedgerError(
                    .malformedQuery,
                    "The filter nests too deeply at column \(current.column): at most \(Limits.filterNesting) levels of parentheses and not.",
                    column: current.column
                )
            }
        }
        if isKeyword("NOT") {
            advance()
            let inner = try parseUnary()
            depth -= 1
            return .not(inner)
        }
        if current.kind == .symbol("(") {
            advance()
            let inner = try parseOr()
            depth -= 1
            guard current.kind == .symbol(")") else { throw error("expected ')' to close the parenthesis") }
            advance()
            return inner
        }
        return .comparison(try parseComparison())
    }

    mutating func parseField() throws(LedgerError) -> Field {
        let token = current
        guard case .identifier(let prefix, let key) = token.kind else {
            throw error("expected a key such as metrics.total_cost, params.solver_type, tags.site or attributes.status")
        }
        advance()
        guard let prefix else {
            if let attribute = RunAttribute(name: key) { return .attribute(attribute) }
            throw LedgerError(
                .malformedQuery,
                "Invalid key '\(key)' at column \(token.column): expected metrics.KEY, params.KEY, tags.KEY or attributes.NAME.",
                column: token.column
            )
        }
        guard !key.isEmpty else {
            throw LedgerError(
                .malformedQuery, "Missing key after '\(prefix).' at column \(token.column): expected a name such as \(prefix).total_cost.",
                column: token.column)
        }
        switch prefix.lowercased() {
        case "metric", "metrics": return .metric(key)
        case "param", "params", "parameter", "parameters": return .param(key)
        case "tag", "tags": return .tag(key)
        case "attribute", "attributes", "attr", "run":
            guard let attribute = RunAttribute(name: key) else {
                throw LedgerError(
                    .malformedQuery,
                    "Invalid attribute '\(key)' at column \(token.column). Valid attributes are "
                        + RunAttribute.allCases.map(\.rawValue).joined(separator: ", ") + ".",
                    column: token.column
                )
            }
            return .attribute(attribute)
        default:
            throw LedgerError(
                .malformedQuery,
                "Invalid entity type '\(prefix)' at column \(token.column). Valid values are metrics, params, tags, attributes.",
                column: token.column
            )
        }
    }

    private mutating func parseComparison() throws(LedgerError) -> Comparison {
        comparisons += 1
        guard comparisons <= Limits.filterComparisons else {
            throw LedgerError(
                .malformedQuery,
                "The filter has too many comparisons at column \(current.column): at most \(Limits.filterComparisons). Split the search.",
                column: current.column
            )
        }
        let field = try parseField()
        let operatorToken = current
        let comparator = try parseComparator(after: field)
        let allowed = Comparator.allowed(for: field)
        guard allowed.contains(comparator) else {
            throw LedgerError(
                .malformedQuery,
                "Invalid comparator '\(comparator.rawValue)' for \(field) at column \(operatorToken.column). Valid comparators are "
                    + allowed.map(\.rawValue).joined(separator: ", ") + ".",
                column: operatorToken.column
            )
        }
        let literal = try parseLiteral(for: field, comparator: comparator)
        return Comparison(field, comparator, literal)
    }

    private mutating func parseComparator(after field: Field) throws(LedgerError) -> Comparator {
        switch current.kind {
        case .symbol(let symbol):
            guard let comparator = Comparator(rawValue: symbol) else { break }
            advance()
            return comparator
        case .keyword("LIKE"):
            advance()
            return .like
        case .keyword("ILIKE"):
            advance()
            return .ilike
        case .keyword("IN"):
            advance()
            return .in
        case .keyword("NOT"):
            advance()
            guard isKeyword("IN") else { throw error("expected IN after NOT (for a negated condition write not (\(field) LIKE '…'))") }
            advance()
            return .notIn
        case .keyword("IS"):
            advance()
            var negated = false
            if isKeyword("NOT") {
                negated = true
                advance()
            }
            guard isKeyword("NULL") else { throw error("expected NULL after IS\(negated ? " NOT" : "")") }
            advance()
            return negated ? .isNotNull : .isNull
        default:
            break
        }
        throw error("expected a comparator after \(field) (one of " + Comparator.allowed(for: field).map(\.rawValue).joined(separator: ", ") + ")")
    }

    private mutating func parseLiteral(for field: Field, comparator: Comparator) throws(LedgerError) -> Literal {
        switch comparator {
        case .isNull, .isNotNull:
            return .none
        case .in, .notIn:
            guard current.kind == .symbol("(") else { throw error("expected '(' and a list of values after \(comparator.rawValue)") }
            advance()
            var values: [String] = []
            while true {
                guard case .string(let value) = current.kind else { throw error("expected a quoted string in the \(comparator.rawValue) list") }
                values.append(value)
                guard values.count <= Limits.inListValues else {
                    throw error("at most \(Limits.inListValues) values in an \(comparator.rawValue) list (split the search)")
                }
                advance()
                if current.kind == .symbol(",") {
                    advance()
                    continue
                }
                guard current.kind == .symbol(")") else { throw error("expected ',' or ')' in the \(comparator.rawValue) list") }
                advance()
                return .strings(values)
            }
        default:
            if field.isNumeric {
                guard case .number(let value) = current.kind else { throw error("expected a number after \(field) \(comparator.rawValue)") }
                advance()
                return .number(value)
            }
            guard case .string(let value) = current.kind else {
                throw error(
                    "expected a quoted string after \(field) \(comparator.rawValue) (params, tags and text attributes compare as strings: write '…')")
            }
            advance()
            return .string(value)
        }
    }

    private func isKeyword(_ word: String) -> Bool { current.kind == .keyword(word) }

    private func error(_ expectation: String) -> LedgerError {
        let found: String
        switch current.kind {
        case .end: found = "the end of the text"
        case .identifier(let prefix, let key): found = "'" + (prefix.map { $0 + "." } ?? "") + key + "'"
        case .string(let value): found = "the string '\(value)'"
        case .number(let value): found = "the number \(value)"
        case .keyword(let word), .symbol(let word): found = "'\(word)'"
        }
        return LedgerError(
            .malformedQuery,
            "Syntax error at column \(current.column): \(expectation), found \(found).",
            column: current.column
        )
    }
}
