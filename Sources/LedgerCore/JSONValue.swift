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
        out.reserveCapacity(sizeEstimate)
        write(into: &out, fragments: nil)
        return out
    }

    /// Writes the compact JSON text to `sink` in pieces, handing large ``fragment(_:)``s over as they are instead of
    /// copying them into one buffer first (a server writes them straight into its response).
    public func write(to sink: (UnsafeRawBufferPointer) -> Void) {
        var pending: [UInt8] = []
        // An optional closure parameter is escaping; this one never outlives the call.
        withoutActuallyEscaping(sink) { sink in write(into: &pending, fragments: sink) }
        pending.withUnsafeBytes(sink)
    }

    /// About the length of the text: exact for fragments, a guess for the rest, for sizing a buffer.
    public var sizeEstimate: Int {
        switch self {
        case .null, .bool, .integer, .number: 24
        case .string(let text): text.utf8.count + 2
        case .fragment(let text): text.count
        case .array(let values): values.reduce(2) { $0 + $1.sizeEstimate + 1 }
        case .object(let members): members.reduce(2) { $0 + $1.0.utf8.count + $1.1.sizeEstimate + 4 }
        }
    }

    private func write(into out: inout [UInt8], fragments sink: ((UnsafeRawBufferPointer) -> Void)?) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): out.append(contentsOf: String(value).utf8)
        case .number(let value): JSONValue.append(value, into: &out)
        case .string(let value): JSONValue.escape(value, into: &out)
        case .fragment(let text):
            if let sink, text.count > 4096 {
                out.withUnsafeBytes(sink)
                out.removeAll(keepingCapacity: true)
                text.withUnsafeBytes(sink)
            } else {
                out.append(contentsOf: text)
            }
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.write(into: &out, fragments: sink)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.escape(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out, fragments: sink)
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
    /// text: histories are the largest answers the server gives. Each point is written through a pointer into a
    /// buffer sized for the longest point, since appending byte by byte to an array cost more than reading the points.
    // A concrete slice, not a generic collection: called from the server's module, a generic ran unspecialized.
    public static func metricPoints(key: String, _ points: ArraySlice<MetricPoint>) -> JSONValue {
        var head: [UInt8] = Array(#"{"key":"#.utf8)
        escape(key, into: &head)
        head.append(contentsOf: #","value":"#.utf8)
        let timestampLabel: StaticString = #","timestamp":"#
        let stepLabel: StaticString = #","step":"#
        // A value takes at most 32 bytes (Swift's own buffer for a Double's text), an integer 20 (Int64.min).
        let longestPoint = 1 + head.count + 32 + timestampLabel.utf8CodeUnitCount + 20 + stepLabel.utf8CodeUnitCount + 20 + 1
        let capacity = 2 + points.count * longestPoint
        let text = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            var at = base
            func put(_ bytes: UnsafeRawBufferPointer) {
                guard let source = bytes.baseAddress else { return }
                UnsafeMutableRawPointer(at).copyMemory(from: source, byteCount: bytes.count)
                at += bytes.count
            }
            func put(_ label: StaticString) { put(UnsafeRawBufferPointer(start: label.utf8Start, count: label.utf8CodeUnitCount)) }
            at.pointee = UInt8(ascii: "[")
            at += 1
            head.withUnsafeBytes { head in
                for point in points {
                    if at - base > 1 {
                        at.pointee = UInt8(ascii: ",")
                        at += 1
                    }
                    put(head)
                    at = writeNumber(point.value, to: at)
                    put(timestampLabel)
                    at = writeInteger(point.timestamp, to: at)
                    put(stepLabel)
                    at = writeInteger(point.step, to: at)
                    at.pointee = UInt8(ascii: "}")
                    at += 1
                }
            }
            at.pointee = UInt8(ascii: "]")
            initialized = at - base + 1
        }
        return .fragment(text)
    }

    /// A double as ``append(_:into:)`` writes it, at `to`; returns the address after it. Needs 32 bytes.
    private static func writeNumber(_ value: Double, to start: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        guard value.isFinite else {
            let text: StaticString = value.isNaN ? #""NaN""# : value > 0 ? #""Infinity""# : #""-Infinity""#
            start.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
            return start + text.utf8CodeUnitCount
        }
        if value == value.rounded(), abs(value) < 1e15 {
            // `Int64(value)` cannot trap: the magnitude is below 1e15.
            let end = writeInteger(Int64(value), to: start)
            end[0] = UInt8(ascii: ".")
            end[1] = UInt8(ascii: "0")
            return end + 2
        }
        var text = value.description
        return text.withUTF8 { bytes in
            guard let source = bytes.baseAddress else { return start }
            start.update(from: source, count: bytes.count)
            return start + bytes.count
        }
    }

    /// An integer's decimal digits at `to`; returns the address after them. Needs 20 bytes.
    private static func writeInteger(_ number: Int64, to start: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var at = start
        if number < 0 {
            at.pointee = UInt8(ascii: "-")
            at += 1
        }
        // The magnitude as unsigned, so that Int64.min has one too.
        var magnitude = number.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var position = at + digits
        repeat {
            position -= 1
            position.pointee = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        return at + digits
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
