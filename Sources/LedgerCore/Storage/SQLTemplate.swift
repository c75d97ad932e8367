/// A statement written once for both dialects: text with interpolated values that become bound parameters (`?` for
/// SQLite, `$n` for PostgreSQL) when the statement is rendered. Only `raw:` text is spliced, and only from constants.
///
/// ```swift
/// let sql: SQLTemplate = "SELECT 1 FROM runs WHERE run_uuid = \(runID.rawValue)"
/// sql.statement(.postgres)  // SELECT 1 FROM runs WHERE run_uuid = $1, bound to the id
/// ```
public struct SQLTemplate: Sendable, ExpressibleByStringInterpolation {
    fileprivate enum Part: Sendable {
        case text(String)
        case value(SQLValue)
        case binaryText(String)
        case dialect(sqlite: String, postgres: String)
        case filter(Filter)
    }

    fileprivate var parts: [Part] = []

    /// Whether the text depends on the values (a list's length): such statements are not kept prepared.
    public private(set) var hasList = false

    public init(stringLiteral value: String) { parts = [.text(value)] }

    public init(stringInterpolation: StringInterpolation) {
        parts = stringInterpolation.parts
        hasList = stringInterpolation.hasList
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var parts: [Part] = []
        fileprivate var hasList = false

        public init(literalCapacity: Int, interpolationCount: Int) {}

        public mutating func appendLiteral(_ literal: String) { parts.append(.text(literal)) }

        public mutating func appendInterpolation(_ value: Int64) { parts.append(.value(.integer(value))) }
        public mutating func appendInterpolation(_ value: Int) { parts.append(.value(.integer(Int64(value)))) }
        public mutating func appendInterpolation(_ value: Double) { parts.append(.value(.real(value))) }
        public mutating func appendInterpolation(_ value: String) { parts.append(.value(.text(value))) }
        public mutating func appendInterpolation(_ value: [UInt8]) { parts.append(.value(.blob(value))) }
        public mutating func appendInterpolation(_ value: Bool) { parts.append(.value(.integer(value ? 1 : 0))) }
        public mutating func appendInterpolation(_ value: Int64?) { parts.append(.value(value.map(SQLValue.integer) ?? .null)) }
        public mutating func appendInterpolation(_ value: String?) { parts.append(.value(value.map(SQLValue.text) ?? .null)) }

        /// `(v1, v2, …)`, each bound; an empty list becomes `(NULL)`, which matches nothing.
        public mutating func appendInterpolation(list values: [SQLValue]) {
            hasList = true
            parts.append(.text("("))
            for (index, value) in values.enumerated() {
                if index > 0 { parts.append(.text(", ")) }
                parts.append(.value(value))
            }
            if values.isEmpty { parts.append(.text("NULL")) }
            parts.append(.text(")"))
        }

        /// Constant SQL text (never user input).
        public mutating func appendInterpolation(raw text: String) { parts.append(.text(text)) }

        /// A text expression compared and sorted byte by byte (UTF-8 order) in every dialect.
        public mutating func appendInterpolation(binary expression: String) { parts.append(.binaryText(expression)) }

        /// Constant text that differs between the dialects (a function name, a locking clause).
        public mutating func appendInterpolation(sqlite: String, postgres: String) { parts.append(.dialect(sqlite: sqlite, postgres: postgres)) }

        /// A run filter as a boolean expression over the runs table aliased `r` (its values bound).
        public mutating func appendInterpolation(runsMatching filter: Filter) {
            hasList = true
            parts.append(.filter(filter))
        }

        /// Another statement's text and values.
        public mutating func appendInterpolation(_ sql: SQLTemplate) {
            parts += sql.parts
            hasList = hasList || sql.hasList
        }
    }

    /// The statement as `dialect` writes it.
    public func statement(_ dialect: SQLDialect) -> SQLStatement {
        var writer = SQLWriter(dialect: dialect)
        for part in parts {
            switch part {
            case .text(let text): writer.append(text)
            case .value(let value): writer.bind(value)
            case .binaryText(let expression): writer.append(writer.binaryText(expression))
            case .dialect(let sqlite, let postgres): writer.append(dialect == .sqlite ? sqlite : postgres)
            case .filter(let filter): filter.write(into: &writer)
            }
        }
        return writer.statement
    }
}

/// One row as a backend read it, in SELECT order, NULL as nil. Accessors throw for a value of the wrong kind, so that
/// a damaged row becomes an error, never a crash.
public struct SQLRow: Sendable {
    public var values: [SQLValue?]

    public init(_ values: [SQLValue?]) { self.values = values }

    private func value(_ index: Int) -> SQLValue? { values.indices.contains(index) ? values[index] : nil }

    private func mismatch(_ index: Int, _ wanted: String) -> LedgerError {
        LedgerError(.internal, "Column \(index) of a stored row is not \(wanted).")
    }

    public func int64(_ index: Int) throws(LedgerError) -> Int64 {
        guard let value = try optionalInt64(index) else { throw mismatch(index, "an integer") }
        return value
    }

    public func optionalInt64(_ index: Int) throws(LedgerError) -> Int64? {
        switch value(index) {
        case .integer(let number)?: return number
        case nil, .null?: return nil
        default: throw mismatch(index, "an integer")
        }
    }

    public func int(_ index: Int) throws(LedgerError) -> Int {
        let number = try int64(index)
        guard let value = Int(exactly: number) else { throw mismatch(index, "a count") }
        return value
    }

    public func double(_ index: Int) throws(LedgerError) -> Double {
        switch value(index) {
        case .real(let number)?: return number
        case .integer(let number)?: return Double(number)
        default: throw mismatch(index, "a number")
        }
    }

    public func optionalDouble(_ index: Int) throws(LedgerError) -> Double? {
        switch value(index) {
        case nil, .null?: return nil
        default: return try double(index)
        }
    }

    public func text(_ index: Int) throws(LedgerError) -> String {
        guard let text = try optionalText(index) else { throw mismatch(index, "text") }
        return text
    }

    public func optionalText(_ index: Int) throws(LedgerError) -> String? {
        switch value(index) {
        case .text(let text)?: return text
        case nil, .null?: return nil
        default: throw mismatch(index, "text")
        }
    }

    public func bool(_ index: Int) throws(LedgerError) -> Bool { try int64(index) != 0 }

    public func blob(_ index: Int) throws(LedgerError) -> [UInt8] {
        switch value(index) {
        case .blob(let bytes)?: return bytes
        default: throw mismatch(index, "bytes")
        }
    }
}
