/// Why a text is not JSON: what was expected and the byte offset where it was not found.
public struct JSONParseError: Error, Sendable, CustomStringConvertible {
    public let offset: Int
    public let expected: String
    public var description: String { "Invalid JSON at byte \(offset): expected \(expected)." }
}

extension JSONValue {
    /// The deepest nesting accepted: a hostile body of a million `[` must be refused, not overflow the stack.
    public static let maximumDepth = 128
    /// The most values one text may hold: a DOM of small values takes tens of bytes per byte of `[0,0,…]` or
    /// `[{},{},…]`, so the count, not the text's length, bounds a request's memory (~100 MB at the limit).
    public static let maximumValues = 1_000_000

    /// Parses JSON text (RFC 8259) keeping object members in document order; integers that fit in Int64 stay
    /// integers, other numbers become doubles. A hand-written parser because the server parses every request body
    /// with it, and going through `Decodable` cost several times the insert of the points it carries.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONParseError) {
        // Contiguous bytes (an Array, a ByteBuffer's view) are read in place, without a copy.
        let result = bytes.withContiguousStorageIfAvailable(Self.parse) ?? Array(bytes).withUnsafeBufferPointer(Self.parse)
        self = try result.get()
    }

    private static func parse(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONParseError> {
        var parser = JSONParser(bytes: buffer)
        do throws(JSONParseError) {
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.position == buffer.count else { throw parser.error("the end of the text") }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }
}

private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    var values = 0

    func error(_ expected: String) -> JSONParseError { JSONParseError(offset: position, expected: expected) }

    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(JSONParseError) {
        guard current == byte else { throw error(what) }
        position += 1
    }

    mutating func literal(_ text: String, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let utf8 = Array(text.utf8)
        guard position + utf8.count <= bytes.count, bytes[position..<position + utf8.count].elementsEqual(utf8) else { throw error("'\(text)'") }
        position += utf8.count
        return value
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < JSONValue.maximumDepth else { throw error("at most \(JSONValue.maximumDepth) levels of nesting") }
        values += 1
        guard values <= JSONValue.maximumValues else { throw error("at most \(JSONValue.maximumValues) values in one text") }
        switch current {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case let byte? where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte): return try number()
        default: throw error("a value")
        }
    }

    mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        position += 1
        var members: [(String, JSONValue)] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        // A log-batch's points have four members: one allocation for each instead of three as the array grows (not
        // for `{}`, which would make `[{},{},…]` cost 200 bytes of memory per 3 bytes of text).
        members.reserveCapacity(4)
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("a member name in double quotes") }
            let key = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a member name")
            skipWhitespace()
            members.append((key, try value(depth: depth + 1)))
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                position += 1
                continue
            }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return .object(members)
        }
    }

    mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        position += 1
        var values: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            position += 1
            return .array(values)
        }
        while true {
            skipWhitespace()
            values.append(try value(depth: depth + 1))
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                position += 1
                continue
            }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return .array(values)
        }
    }

    mutating func string() throws(JSONParseError) -> String {
        position += 1
        let start = position
        // The common case, no escapes: one copy of the bytes, validated only when they are not all ASCII.
        var isASCII = true
        while position < bytes.count, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\"), bytes[position] >= 0x20 {
            isASCII = isASCII && bytes[position] < 0x80
            position += 1
        }
        guard position < bytes.count else { throw error("the closing '\"' of a string") }
        if bytes[position] == UInt8(ascii: "\"") {
            position += 1
            let utf8 = UnsafeBufferPointer(rebasing: bytes[start..<position - 1])
            return isASCII ? String(decoding: utf8, as: UTF8.self) : try validated(utf8, from: start)
        }
        var utf8 = Array(bytes[start..<position])
        while true {
            guard let byte = current else { throw error("the closing '\"' of a string") }
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return try utf8.withUnsafeBufferPointer { buffer throws(JSONParseError) in try validated(buffer, from: start) }
            case UInt8(ascii: "\\"):
                position += 1
                guard let escaped = current else { throw error("an escape sequence") }
                position += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"): utf8.append(contentsOf: try unicodeEscape())
                default:
                    position -= 1
                    throw error("a valid escape sequence")
                }
            case ..<0x20:
                throw error("no control characters inside a string (escape them)")
            default:
                utf8.append(byte)
                position += 1
            }
        }
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` for a surrogate pair; the scalar's UTF-8 bytes.
    mutating func unicodeEscape() throws(JSONParseError) -> [UInt8] {
        var scalarValue = try hex4()
        if (0xD800..<0xDC00).contains(scalarValue) {
            guard current == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                throw error("the low surrogate of a surrogate pair")
            }
            position += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw error("a low surrogate (\\uDC00-\\uDFFF)") }
            scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(scalarValue) else { throw error("a Unicode scalar, not a lone surrogate") }
        return Array(String(Character(scalar)).utf8)
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("four hex digits")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    func validated(_ utf8: UnsafeBufferPointer<UInt8>, from start: Int) throws(JSONParseError) -> String {
        guard let text = String(validating: utf8, as: UTF8.self) else { throw JSONParseError(offset: start, expected: "UTF-8 text") }
        return text
    }

    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = position
        let negative = current == UInt8(ascii: "-")
        if negative { position += 1 }
        guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw error("a digit") }
        if first == UInt8(ascii: "0") {
            position += 1
        } else {
            skipDigits()
        }
        // Integers (a log-batch's timestamps and steps) are read from the bytes: no text to build and parse again.
        if current != UInt8(ascii: "."), current != UInt8(ascii: "e"), current != UInt8(ascii: "E"),
            let integer = integer(from: start, negative: negative)
        {
            return .integer(integer)
        }
        if current == UInt8(ascii: ".") {
            position += 1
            guard skipDigits() else { throw error("a digit after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard skipDigits() else { throw error("a digit in the exponent") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        // Past here: a fraction, an exponent, or an integer too large for Int64.
        guard let double = Double(text) else { throw JSONParseError(offset: start, expected: "a number") }
        return .number(double)
    }

    /// The digits from `start` (after its sign) to `position` as an Int64, or nil when it does not fit.
    func integer(from start: Int, negative: Bool) -> Int64? {
        var magnitude: UInt64 = 0
        for index in (negative ? start + 1 : start)..<position {
            let (shifted, overflowShift) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflowAdd) = shifted.addingReportingOverflow(UInt64(bytes[index] &- UInt8(ascii: "0")))
            if overflowShift || overflowAdd { return nil }
            magnitude = sum
        }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    @discardableResult
    mutating func skipDigits() -> Bool {
        let start = position
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { position += 1 }
        return position > start
    }
}
