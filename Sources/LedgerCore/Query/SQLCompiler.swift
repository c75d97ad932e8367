/// The SQL dialects the compiler writes. Dialect differences live in the `switch`es of this file only.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres
}

/// A value bound to a statement placeholder. User text only ever reaches SQL this way.
public enum SQLValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)
    /// Bytes (SQLite BLOB, PostgreSQL bytea): metric chunks.
    case blob([UInt8])
    case null
}

/// SQL text with `?` (SQLite) or `$n` (PostgreSQL) placeholders and the values bound to them, in order.
public struct SQLStatement: Sendable, Equatable, CustomStringConvertible {
    public var sql: String
    public var bindings: [SQLValue]

    public var description: String { sql }
}

/// Accumulates SQL text and bindings; placeholders are written as the dialect wants them.
struct SQLWriter {
    let dialect: SQLDialect
    private(set) var sql = ""
    private(set) var bindings: [SQLValue] = []

    init(dialect: SQLDialect) { self.dialect = dialect }

    mutating func append(_ text: String) { sql += text }

    mutating func bind(_ value: SQLValue) {
        bindings.append(value)
        switch dialect {
        case .sqlite: sql += "?"
        case .postgres: sql += "$\(bindings.count)"
        }
    }

    mutating func bindList(_ values: [SQLValue]) {
        append("(")
        for (index, value) in values.enumerated() {
            if index > 0 { append(", ") }
            bind(value)
        }
        append(")")
    }

    /// Text compared or sorted byte by byte (UTF-8 order) in every dialect.
    func binaryText(_ expression: String) -> String {
        switch dialect {
        case .sqlite: expression
        case .postgres: expression + " COLLATE \"C\""
        }
    }

    var statement: SQLStatement { SQLStatement(sql: sql, bindings: bindings) }
}

extension Field {
    /// The table holding the field's values per run, for metrics, params and tags.
    var valueTable: String? {
        switch self {
        case .metric: "latest_metrics"
        case .param: "params"
        case .tag: "tags"
        case .attribute: nil
        }
    }

    var key: String? {
        switch self {
        case .metric(let key), .param(let key), .tag(let key): key
        case .attribute: nil
        }
    }

    /// The `runs` column of an attribute (an allow-list: no user text becomes an identifier).
    var attributeColumn: String? {
        guard case .attribute(let attribute) = self else { return nil }
        return switch attribute {
        case .runID: "r.run_uuid"
        case .runName: "r.name"
        case .status: "r.status"
        case .userID: "r.user_id"
        case .artifactURI: "r.artifact_uri"
        case .startTime: "r.start_time"
        case .endTime: "r.end_time"
        }
    }

    /// The ranks (0 value, 1 NaN, 2 missing) a run can have for this field.
    var possibleRanks: [Int] {
        switch self {
        case .metric: [0, 1, 2]
        case .param, .tag: [0, 2]
        case .attribute(let attribute): attribute.isOptional ? [0, 2] : [0]
        }
    }
}

extension Filter {
    /// Writes the filter as a boolean SQL expression over the runs table aliased `r`.
    func write(into writer: inout SQLWriter) {
        switch self {
        case .all:
            writer.append("1 = 1")
        case .comparison(let comparison):
            comparison.write(into: &writer)
        case .and, .or:
            // A chain of one operator is written flat, `(a OR b OR c)`: nested parentheses for every link would
            // overflow SQLite's parser stack long before the filter's comparison limit.
            let isAnd = if case .and = self { true } else { false }
            writer.append("(")
            for (index, operand) in chainOperands(and: isAnd).enumerated() {
                if index > 0 { writer.append(isAnd ? " AND " : " OR ") }
                operand.write(into: &writer)
            }
            writer.append(")")
        case .not(let inner):
            writer.append("NOT (")
            inner.write(into: &writer)
            writer.append(")")
        }
    }

    /// The operands of a chain of `and`s (or of `or`s), left to right.
    private func chainOperands(and: Bool) -> [Filter] {
        switch (self, and) {
        case (.and(let lhs, let rhs), true), (.or(let lhs, let rhs), false):
            lhs.chainOperands(and: and) + rhs.chainOperands(and: and)
        default:
            [self]
        }
    }

    /// The filter compiled alone, for golden tests and debugging.
    public func sql(dialect: SQLDialect) -> SQLStatement {
        var writer = SQLWriter(dialect: dialect)
        write(into: &writer)
        return writer.statement
    }
}

extension Comparison {
    // Every comparison compiles to an expression that is never NULL (EXISTS, or IS NOT NULL AND …), so that
    // NOT negates the two-valued result exactly as the in-memory evaluator does.
    func write(into writer: inout SQLWriter) {
        if let table = field.valueTable, let key = field.key {
            writer.append(comparator == .isNull ? "NOT EXISTS" : "EXISTS")
            writer.append(" (SELECT 1 FROM \(table) f WHERE f.run_id = r.id AND f.key = ")
            writer.bind(.text(key))
            if comparator != .isNull && comparator != .isNotNull {
                writer.append(" AND ")
                if case .metric = field {
                    writeNumeric(value: "f.value", nanGuard: "f.is_nan", into: &writer)
                } else {
                    writeText("f.value", into: &writer)
                }
            }
            writer.append(")")
            return
        }
        guard let column = field.attributeColumn else { return }
        switch comparator {
        case .isNull:
            writer.append("\(column) IS NULL")
        case .isNotNull:
            writer.append("\(column) IS NOT NULL")
        default:
            if field.isNumeric {
                writer.append("(\(column) IS NOT NULL AND ")
                writeNumeric(value: column, nanGuard: nil, into: &writer)
                writer.append(")")
            } else {
                writeText(column, into: &writer)
            }
        }
    }

    private func writeNumeric(value: String, nanGuard: String?, into writer: inout SQLWriter) {
        guard case .number(let operand) = literal else { return }
        let bound: SQLValue = field.isTimeAttribute && operand == operand.rounded() && abs(operand) < 9e18 ? .integer(Int64(operand)) : .real(operand)
        let symbol = comparator == .notEqual ? "<>" : comparator.rawValue
        if let nanGuard {
            // NaN is stored as is_nan = 1: unequal to everything, and neither less nor greater than anything.
            writer.append(comparator == .notEqual ? "(\(nanGuard) = 1 OR \(value) <> " : "(\(nanGuard) = 0 AND \(value) \(symbol) ")
            writer.bind(bound)
            writer.append(")")
        } else {
            writer.append("\(value) \(symbol) ")
            writer.bind(bound)
        }
    }

    private func writeText(_ column: String, into writer: inout SQLWriter) {
        switch (comparator, literal) {
        case (.equal, .string(let operand)):
            writer.append("\(column) = ")
            writer.bind(.text(operand))
        case (.notEqual, .string(let operand)):
            writer.append("\(column) <> ")
            writer.bind(.text(operand))
        case (.like, .string(let pattern)):
            switch writer.dialect {
            case .sqlite:
                // SQLite's LIKE ignores ASCII case; GLOB is case-sensitive, so LIKE patterns are translated to GLOB.
                writer.append("\(column) GLOB ")
                writer.bind(.text(Comparison.globPattern(fromLike: pattern)))
            case .postgres:
                writer.append("\(column) LIKE ")
                writer.bind(.text(pattern))
                writer.append(" ESCAPE ''")
            }
        case (.ilike, .string(let pattern)):
            switch writer.dialect {
            case .sqlite:
                writer.append("\(column) LIKE ")
                writer.bind(.text(pattern))
            case .postgres:
                // Fold ASCII letters only, as SQLite and the reference evaluator do.
                writer.append("translate(\(column), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE ")
                writer.bind(.text(String(String.UnicodeScalarView(pattern.unicodeScalars.map(LikePattern.fold)))))
                writer.append(" ESCAPE ''")
            }
        case (.in, .strings(let operands)):
            writer.append("\(column) IN ")
            writer.bindList(operands.map { .text($0) })
        case (.notIn, .strings(let operands)):
            writer.append("\(column) NOT IN ")
            writer.bindList(operands.map { .text($0) })
        default:
            writer.append("1 = 0")
        }
    }

    /// Translates a LIKE pattern (`%`, `_`) into an equivalent GLOB pattern, quoting GLOB's own wildcards.
    static func globPattern(fromLike pattern: String) -> String {
        var glob = ""
        for scalar in pattern.unicodeScalars {
            switch scalar {
            case "%": glob += "*"
            case "_": glob += "?"
            case "*": glob += "[*]"
            case "?": glob += "[?]"
            case "[": glob += "[[]"
            default: glob.unicodeScalars.append(scalar)
            }
        }
        return glob
    }
}

extension Field {
    /// Whether the field is a time attribute (start_time, end_time), compared as integers.
    public var isTimeAttribute: Bool {
        if case .attribute(let attribute) = self { return attribute.isNumeric }
        return false
    }
}
