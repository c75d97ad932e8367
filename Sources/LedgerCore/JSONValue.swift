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

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.description == rhs.description }

    /// Compact JSON text.
    public var description: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .integer(let value): out += String(value)
        case .number(let value):
            if value.isNaN {
                out += "\"NaN\""
            } else if value.isInfinite {
                out += value > 0 ? "\"Infinity\"" : "\"-Infinity\""
            } else if value == value.rounded(), abs(value) < 1e15 {
                out += String(Int64(value)) + ".0"
            } else {
                out += "\(value)"
            }
        case .string(let value): JSONValue.escape(value, into: &out)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += "," }
                JSONValue.escape(key, into: &out)
                out += ":"
                value.write(into: &out)
            }
            out += "}"
        }
    }

    private static func escape(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension Run {
    /// The run in the JSON shape the CLI prints: `{run_id, run_name, experiment_id, status, start_time, end_time,
    /// params, metrics (latest values), tags}`.
    public var json: JSONValue {
        .object([
            ("run_id", .string(info.runID.rawValue)),
            ("run_name", .string(info.name)),
            ("experiment_id", .string(info.experimentID.description)),
            ("status", .string(info.status.rawValue)),
            ("start_time", .integer(info.startTime)),
            ("end_time", info.endTime.map { .integer($0) } ?? .null),
            ("lifecycle_stage", .string(info.lifecycleStage.rawValue)),
            ("params", .object(params.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("metrics", .object(latestMetrics.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value.value)) })),
            ("tags", .object(tags.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ])
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

extension JSONValue: Decodable {
    /// Reads any JSON value; integers that fit in Int64 stay integers, other numbers become doubles.
    public init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var values: [JSONValue] = []
            while !array.isAtEnd { values.append(try array.decode(JSONValue.self)) }
            self = .array(values)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            self = .object(try object.allKeys.map { ($0.stringValue, try object.decode(JSONValue.self, forKey: $0)) })
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? single.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? single.decode(Double.self) {
            self = .number(value)
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    /// The member named `key` of an object; nil for a missing member or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
