/// A condition on a JSON state document, in a small JSON-path language (docs/telemetry.md#querying-state):
///
/// ```
/// $.phase == "implementation" && exists($.plan.steps[0])
/// $.progress.done > 3 || !($["owner name"] != 'ana')
/// ```
///
/// A path starts at `$` and goes down by `.name`, `["any name"]` or `[index]`. Comparisons are `==`, `!=`, `<`, `<=`,
/// `>`, `>=` against a string, a number, `true`, `false` or `null`; `exists(path)` tests that a path is there;
/// `&&`, `||`, `!` and parentheses combine them. A comparison whose path is missing, or whose types differ, is false
/// (`!=` too); `<` and `>` order numbers by value and strings by their UTF-8 bytes. Pure: no I/O.
public indirect enum StatePredicate: Sendable, Equatable {
    case comparison([PathStep], Comparator, JSONValue)
    case exists([PathStep])
    case not(StatePredicate)
    case and(StatePredicate, StatePredicate)
    case or(StatePredicate, StatePredicate)

    /// One step down a path.
    public enum PathStep: Sendable, Equatable {
        case member(String)
        case index(Int)
    }

    public enum Comparator: String, Sendable, CaseIterable {
        case equal = "=="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
    }

    /// The longest expression accepted, and the deepest nesting: bounds on the work one query can ask for.
    public static let maximumLength = 4096
    public static let maximumDepth = 32

    /// Parses an expression. - Throws: ``LedgerError/Code/invalidParameterValue`` saying where and what was expected.
    public init(parsing text: String) throws(LedgerError) {
        guard text.utf8.count <= Self.maximumLength else {
            throw LedgerError(.invalidParameterValue, "The state condition is \(text.utf8.count) bytes long; the limit is \(Self.maximumLength).")
        }
        var parser = StatePredicateParser(Array(text.utf8))
        self = try parser.expression(depth: 0)
        parser.skipSpace()
        guard parser.atEnd else { throw parser.error("the end of the condition") }
    }

    /// Whether `document` satisfies the condition.
    public func matches(_ document: JSONValue) -> Bool {
        switch self {
        case .exists(let path): return Self.resolve(path, in: document) != nil
        case .not(let inner): return !inner.matches(document)
        case .and(let lhs, let rhs): return lhs.matches(document) && rhs.matches(document)
        case .or(let lhs, let rhs): return lhs.matches(document) || rhs.matches(document)
        case .comparison(let path, let comparator, let literal):
            guard let value = Self.resolve(path, in: document), let order = Self.order(value, literal) else { return false }
            switch comparator {
            case .equal: return order == 0
            case .notEqual: return order != 0
            case .less: return order < 0
            case .lessOrEqual: return order <= 0
            case .greater: return order > 0
            case .greaterOrEqual: return order >= 0
            }
        }
    }

    static func resolve(_ path: [PathStep], in document: JSONValue) -> JSONValue? {
        var value = document
        for step in path {
            switch (step, value) {
            case (.member(let name), .object(let members)):
                guard let found = members.last(where: { $0.0 == name })?.1 else { return nil }
                value = found
            case (.index(let index), .array(let items)):
                guard items.indices.contains(index) else { return nil }
                value = items[index]
            default: return nil
            }
        }
        return value
    }

    /// -1, 0 or 1 for values of one type (numbers, strings, booleans and null for equality); nil across types.
    static func order(_ a: JSONValue, _ b: JSONValue) -> Int? {
        func sign<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : x > y ? 1 : 0 }
        switch (a, b) {
        case (.integer(let x), .integer(let y)): return sign(x, y)
        case (.integer, .number), (.number, .integer), (.number, .number):
            guard let x = a.double, let y = b.double, !x.isNaN, !y.isNaN else { return nil }
            return sign(x, y)
        case (.string(let x), .string(let y)):
            return x == y ? 0 : x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
        case (.bool(let x), .bool(let y)): return x == y ? 0 : nil
        case (.null, .null): return 0
        default: return nil
        }
    }
}

/// A recursive-descent parser over the expression's bytes.
private struct StatePredicateParser {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }

    func error(_ expected: String) -> LedgerError {
        let found = atEnd ? "the end" : "'\(String(decoding: bytes[position...].prefix(20), as: UTF8.self))'"
        return LedgerError(
            .invalidParameterValue,
            "Invalid state condition: expected \(expected) at byte \(position + 1), found \(found). Write e.g. $.phase == \"implementation\".")
    }

    mutating func skipSpace() {
        while !atEnd, [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r")].contains(bytes[position]) { position += 1 }
    }

    mutating func take(_ token: String) -> Bool {
        skipSpace()
        let token = Array(token.utf8)
        guard bytes.count - position >= token.count, Array(bytes[position..<position + token.count]) == token else { return false }
        position += token.count
        return true
    }

    mutating func expression(depth: Int) throws(LedgerError) -> StatePredicate {
        guard depth < StatePredicate.maximumDepth else {
            throw LedgerError(.invalidParameterValue, "The state condition nests deeper than \(StatePredicate.maximumDepth) levels.")
        }
        var result = try conjunction(depth: depth)
        while take("||") { result = .or(result, try conjunction(depth: depth)) }
        return result
    }

    mutating func conjunction(depth: Int) throws(LedgerError) -> StatePredicate {
        var result = try unary(depth: depth)
        while take("&&") { result = .and(result, try unary(depth: depth)) }
        return result
    }

    mutating func unary(depth: Int) throws(LedgerError) -> StatePredicate {
        guard depth < StatePredicate.maximumDepth else {
            throw LedgerError(.invalidParameterValue, "The state condition nests deeper than \(StatePredicate.maximumDepth) levels.")
        }
        if take("!") { return .not(try unary(depth: depth + 1)) }
        if take("(") {
            let inner = try expression(depth: depth + 1)
            guard take(")") else { throw error("')'") }
            return inner
        }
        if take("exists") {
            guard take("(") else { throw error("'(' after exists") }
            let path = try self.path()
            guard take(")") else { throw error("')' after the path") }
            return .exists(path)
        }
        let path = try self.path()
        // Longest operators first, so that `<=` is not read as `<`.
        let comparators: [StatePredicate.Comparator] = [.equal, .notEqual, .lessOrEqual, .greaterOrEqual, .less, .greater]
        guard let comparator = comparators.first(where: { take($0.rawValue) }) else { throw error("==, !=, <, <=, > or >=") }
        return .comparison(path, comparator, try literal())
    }

    mutating func path() throws(LedgerError) -> [StatePredicate.PathStep] {
        guard take("$") else { throw error("a path starting with $") }
        var steps: [StatePredicate.PathStep] = []
        while !atEnd {
            if bytes[position] == UInt8(ascii: ".") {
                position += 1
                let start = position
                while !atEnd, Self.isNameByte(bytes[position]) { position += 1 }
                guard position > start else { throw error("a member name after '.'") }
                steps.append(.member(String(decoding: bytes[start..<position], as: UTF8.self)))
            } else if bytes[position] == UInt8(ascii: "[") {
                position += 1
                skipSpace()
                if !atEnd, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") {
                    steps.append(.member(try string()))
                } else {
                    let start = position
                    while !atEnd, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                    guard position > start, position - start <= 9, let index = Int(String(decoding: bytes[start..<position], as: UTF8.self)) else {
                        throw error("an index (0 to 999999999) or a quoted name")
                    }
                    steps.append(.index(index))
                }
                guard take("]") else { throw error("']'") }
            } else {
                break
            }
        }
        return steps
    }

    /// Letters, digits, `_`, `-` and any non-ASCII byte: a name as people write one after a dot.
    static func isNameByte(_ byte: UInt8) -> Bool {
        byte >= 0x80 || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    /// A string in double quotes (JSON's escapes) or single quotes (no escapes but `\'` and `\\`).
    mutating func string() throws(LedgerError) -> String {
        skipSpace()
        guard !atEnd else { throw error("a string") }
        let quote = bytes[position]
        let start = position
        position += 1
        while !atEnd, bytes[position] != quote {
            if bytes[position] == UInt8(ascii: "\\") { position += 1 }
            position += 1
        }
        guard !atEnd else { throw error("the closing quote of the string that starts at byte \(start + 1)") }
        position += 1
        if quote == UInt8(ascii: "\"") {
            guard case .string(let text)? = try? JSONValue(parsing: bytes[start..<position]) else { throw error("a valid JSON string") }
            return text
        }
        var text: [UInt8] = []
        var index = start + 1
        while index < position - 1 {
            if bytes[index] == UInt8(ascii: "\\") { index += 1 }
            if index < position - 1 { text.append(bytes[index]) }
            index += 1
        }
        return String(decoding: text, as: UTF8.self)
    }

    mutating func literal() throws(LedgerError) -> JSONValue {
        skipSpace()
        guard !atEnd else { throw error("a string, a number, true, false or null") }
        if bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") { return .string(try string()) }
        for (word, value) in [("true", JSONValue.bool(true)), ("false", .bool(false)), ("null", .null)] where take(word) { return value }
        let start = position
        while !atEnd, Array("+-0123456789.eE".utf8).contains(bytes[position]) { position += 1 }
        guard position > start, let value = try? JSONValue(parsing: bytes[start..<position]), value.double != nil else {
            position = start
            throw error("a string, a number, true, false or null")
        }
        return value
    }
}
