import Foundation
import Hummingbird
import LedgerCore

/// The parameters of one MLflow request, from a JSON body (POST) or the query string (GET), read with MLflow's
/// rules: int64 as a number or a decimal string, doubles also as "NaN"/"Infinity"/"-Infinity", and a typed
/// INVALID_PARAMETER_VALUE for anything else.
struct RequestFields {
    /// In document order; a name given twice means its last value, as in Python's json. A list, not a dictionary:
    /// a log-batch carries a thousand small objects, and hashing their keys cost more than scanning four members.
    private let members: [(String, JSONValue)]

    init(members: [(String, JSONValue)]) { self.members = members }

    private func member(_ name: String) -> JSONValue? { members.last { $0.0 == name }?.1 }

    /// Reads the body (at most `limit` bytes) of a POST or the query string of a GET.
    static func read(_ request: Request, limit: Int) async throws -> RequestFields {
        if request.method == .get || request.method == .head {
            var members: [String: JSONValue] = [:]
            for (key, value) in request.uri.queryParameters {
                let key = String(key), value = JSONValue.string(String(value))
                switch members[key] {
                case nil: members[key] = value
                case .array(let values)?: members[key] = .array(values + [value])
                case let single?: members[key] = .array([single, value])
                }
            }
            return RequestFields(members: members.map { ($0.key, $0.value) })
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.contentTooLarge, "REQUEST_TOO_LARGE", "The request body has \(length) bytes; this server accepts at most \(limit).")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "REQUEST_TOO_LARGE", "The request body is larger than this server's limit of \(limit) bytes.")
        }
        if buffer.readableBytes == 0 { return RequestFields(members: []) }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: buffer.readableBytesView)
        } catch {
            throw APIError(.badRequest, "MALFORMED_REQUEST", "The request body is not valid JSON (\(error)). Send a JSON object such as {\"run_id\": \"…\"}.")
        }
        guard case .object(let pairs) = value else {
            throw APIError(.badRequest, "MALFORMED_REQUEST", "The request body must be a JSON object, not \(value.kindName).")
        }
        return RequestFields(members: pairs)
    }

    func has(_ name: String) -> Bool { member(name).map { $0 != .null } ?? false }

    /// A field of any JSON type, as sent (nil when missing or null).
    func value(_ name: String) -> JSONValue? { member(name).flatMap { $0 == .null ? nil : $0 } }

    func string(_ name: String) throws -> String? {
        switch member(name) {
        case nil, .null?: return nil
        case .string(let value)?: return value
        case let other?: throw APIError.invalidValue(other, for: name, expected: "a string")
        }
    }

    func requiredString(_ name: String) throws -> String {
        guard let value = try string(name) else { throw APIError.missing(name) }
        return value
    }

    func int64(_ name: String) throws -> Int64? {
        switch member(name) {
        case nil, .null?: return nil
        case .integer(let value)?: return value
        case .number(let value)? where value == value.rounded() && abs(value) < 9.2e18: return Int64(value)
        case .string(let text)? where Int64(text) != nil: return Int64(text)
        case let other?: throw APIError.invalidValue(other, for: name, expected: "an integer")
        }
    }

    func requiredInt64(_ name: String) throws -> Int64 {
        guard let value = try int64(name) else { throw APIError.missing(name) }
        return value
    }

    func double(_ name: String) throws -> Double? {
        guard let value = member(name), value != .null else { return nil }
        return try Self.double(value, name: name)
    }

    static func double(_ value: JSONValue, name: String) throws -> Double {
        switch value {
        case .integer(let number): return Double(number)
        case .number(let number): return number
        case .string("NaN"): return .nan
        case .string("Infinity"): return .infinity
        case .string("-Infinity"): return -.infinity
        case .string(let text) where Double(text) != nil && !text.contains(where: \.isLetter): return Double(text)!
        default: throw APIError.invalidValue(value, for: name, expected: "a number")
        }
    }

    func requiredDouble(_ name: String) throws -> Double {
        guard let value = try double(name) else { throw APIError.missing(name) }
        return value
    }

    func bool(_ name: String) throws -> Bool? {
        switch member(name) {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        case .string(let text)? where ["true", "false"].contains(text.lowercased()): return text.lowercased() == "true"
        case let other?: throw APIError.invalidValue(other, for: name, expected: "true or false")
        }
    }

    /// A repeated string field; a single string counts as a list of one (as a GET query string sends it).
    func strings(_ name: String) throws -> [String] {
        switch member(name) {
        case nil, .null?: return []
        case .string(let value)?: return [value]
        case .array(let values)?:
            return try values.map { value in
                guard case .string(let text) = value else { throw APIError.invalidValue(value, for: name, expected: "a list of strings") }
                return text
            }
        case let other?: throw APIError.invalidValue(other, for: name, expected: "a list of strings")
        }
    }

    /// A repeated message field such as `tags` or `metrics`: each element an object.
    func objects(_ name: String) throws -> [RequestFields] {
        switch member(name) {
        case nil, .null?: return []
        case .array(let values)?:
            return try values.map { value in
                guard case .object(let pairs) = value else { throw APIError.invalidValue(value, for: name, expected: "a list of objects") }
                return RequestFields(members: pairs)
            }
        case let other?: throw APIError.invalidValue(other, for: name, expected: "a list of objects")
        }
    }

    /// `[{key, value}]` pairs (tags, params); a missing key is an error, a missing value an empty string as in MLflow.
    func keyValues(_ name: String) throws -> [KeyValue] {
        try objects(name).map { item in
            guard let key = try item.string("key") else { throw APIError.missing("\(name).key") }
            return KeyValue(key, try item.string("value") ?? "")
        }
    }

    /// The run id, spelled `run_id` or (older clients) `run_uuid`.
    func runID() throws -> RunID {
        guard let text = try string("run_id") ?? string("run_uuid") else { throw APIError.missing("run_id") }
        guard let id = RunID(text) else {
            throw APIError(.notFound, "RESOURCE_DOES_NOT_EXIST", "Run with id=\(text.prefix(100)) not found")
        }
        return id
    }

    func experimentID(_ name: String = "experiment_id") throws -> ExperimentID {
        let text = try requiredString(name)
        return try Self.experimentID(text)
    }

    static func experimentID(_ text: String) throws -> ExperimentID {
        guard let id = ExperimentID(text) else {
            throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "Invalid experiment id '\(text.prefix(100))': experiment ids are decimal integers such as '0' or '17'.")
        }
        return id
    }
}

extension JSONValue {
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object, .fragment: "an object"
        }
    }
}
