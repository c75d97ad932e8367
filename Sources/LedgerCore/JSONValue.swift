/// A JSON value that keeps key order and writes non-finite numbers as MLflow does (`"NaN"`, `"Infinity"`,
/// `"-Infinity"` strings), which `JSONSerialization` refuses to do.
public enum JSONValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
    /// JSON text already written, inserted as it is: lets a hot path (a 10 000-point history) skip building a tree.
    /// The parser never produces it.
    case fragment([UInt8])

    /// Equal when they write the same JSON text: NaN equals NaN, an integer never equals a double.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.number(let a), .number(let b)): a == b || (a.isNaN && b.isNaN)
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.fragment(let a), .fragment(let b)): a == b
        default: false
        }
    }

    /// Compact JSON text.
    public var description: String { String(decoding: utf8, as: UTF8.self) }

    /// Compact JSON text as UTF-8 bytes, written straight into one buffer: a 10 000-point history is 700 KB of
    /// JSON, and building it by String appends cost more than reading the points from SQLite.
    public var utf8: [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .object(let members):
            switch members.first?.1 {
            case .array(let values)?: out.reserveCapacity(64 + values.count * 72)
            case .fragment(let text)?: out.reserveCapacity(64 + text.count)
            default: break
            }
        default: break
        }
        write(into: &out)
        return out
    }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): out.append(contentsOf: String(value).utf8)
        case .number(let value): JSONValue.append(value, into: &out)
        case .string(let value): JSONValue.escape(value, into: &out)
        case .fragment(let text): out.append(contentsOf: text)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.escape(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A double as MLflow writes it: integral values with ".0", non-finite ones as the strings "NaN", "Infinity",
    /// "-Infinity".
    private static func append(_ value: Double, into out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: "\"NaN\"".utf8)
        } else if value.isInfinite {
            out.append(contentsOf: (value > 0 ? "\"Infinity\"" : "\"-Infinity\"").utf8)
        } else if value == value.rounded(), abs(value) < 1e15 {
            out.append(contentsOf: String(Int64(value)).utf8)
            out.append(contentsOf: ".0".utf8)
        } else {
            out.append(contentsOf: value.description.utf8)
        }
    }

    /// MLflow's list of metric points of one key, `[{"key", "value", "timestamp", "step"}, …]`, written straight to
    /// text: histories are the largest answers the server gives.
    // A concrete slice, not a generic collection: called from the server's module, a generic ran unspecialized.
    public static func metricPoints(key: String, _ points: ArraySlice<MetricPoint>) -> JSONValue {
        var keyText: [UInt8] = []
        escape(key, into: &keyText)
        var out: [UInt8] = []
        out.reserveCapacity(2 + points.count * (56 + keyText.count))
        out.append(UInt8(ascii: "["))
        for point in points {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"key":"#.utf8)
            out.append(contentsOf: keyText)
            out.append(contentsOf: #","value":"#.utf8)
            append(point.value, into: &out)
            out.append(contentsOf: #","timestamp":"#.utf8)
            appendInteger(point.timestamp, into: &out)
            out.append(contentsOf: #","step":"#.utf8)
            appendInteger(point.step, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return .fragment(out)
    }

    /// An integer's decimal digits, without building a String for it.
    static func appendInteger(_ number: Int64, into out: inout [UInt8]) {
        if number < 0 { out.append(UInt8(ascii: "-")) }
        // The magnitude as unsigned, so that Int64.min has one too.
        var magnitude = number.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for index in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[index]) }
        }
    }

    private static func escape(_ text: String, into out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            out.append(UInt8(ascii: "\""))
            // Runs of bytes that need no escaping (usually the whole string) are copied at once.
            var runStart = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
                case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
                case UInt8(ascii: "\n"): out.append(contentsOf: "\\n".utf8)
                case UInt8(ascii: "\r"): out.append(contentsOf: "\\r".utf8)
                case UInt8(ascii: "\t"): out.append(contentsOf: "\\t".utf8)
                default:
                    let hex = String(byte, radix: 16)
                    out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
            out.append(UInt8(ascii: "\""))
        }
    }
}

extension Filter {
    /// The fields the filter mentions, in order of first appearance.
    public var fields: [Field] {
        var seen: [Field] = []
        func visit(_ filter: Filter) {
            switch filter {
            case .all: break
            case .comparison(let comparison): if !seen.contains(comparison.field) { seen.append(comparison.field) }
            case .and(let lhs, let rhs), .or(let lhs, let rhs):
                visit(lhs)
                visit(rhs)
            case .not(let inner): visit(inner)
            }
        }
        visit(self)
        return seen
    }
}

extension JSONValue {
    /// The member named `key` of an object; nil for a missing member or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }
}

extension JSONValue {
    /// The elements of an array; nil for anything else.
    public var array: [JSONValue]? {
        guard case .array(let values) = self else { return nil }
        return values
    }

    /// The string, or nil for any other kind of value.
    public var text: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// An integer given as a JSON integer, an integral number or a decimal string (MLflow's int64 rule).
    public var int64: Int64? {
        switch self {
        case .integer(let value): value
        case .number(let value) where value == value.rounded() && abs(value) < 9.2e18: Int64(value)
        case .string(let text): Int64(text)
        default: nil
        }
    }

    /// A number given as a JSON number or as "NaN", "Infinity" or "-Infinity" (how MLflow writes them).
    public var double: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        case .string("NaN"): .nan
        case .string("Infinity"): .infinity
        case .string("-Infinity"): -.infinity
        default: nil
        }
    }
}
