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

    /// The fields with `name` set to `value`, overriding the body's (a path parameter such as `{model_id}`).
    func setting(_ name: String, _ value: JSONValue) -> RequestFields { RequestFields(members: members + [(name, value)]) }

    private func member(_ name: String) -> JSONValue? { members.last { $0.0 == name }?.1 }

    /// Reads the body of a POST or PUT (JSON, within `limits`) or the query string of a GET.
    ///
    /// A body must say it is JSON: a form or `text/plain` body is what a foreign web page can send without the
    /// browser asking the server first, so it gets 415 before anything is read.
    static func read(_ request: Request, limits: BodyLimits) async throws -> RequestFields {
        if request.method == .get || request.method == .head {
            var members: [String: JSONValue] = [:]
            for (key, value) in request.uri.queryParameters {
                let key = String(key)
                let value = JSONValue.string(String(value))
                switch members[key] {
                case nil: members[key] = value
                case .array(let values)?: members[key] = .array(values + [value])
                case let single?: members[key] = .array([single, value])
                }
            }
            return RequestFields(members: members.map { ($0.key, $0.value) })
        }
        let declaredType = request.headers[.contentType]
        if let declaredType, !Self.isJSON(declaredType) { throw Self.notJSON(declaredType) }
        let limit = limits.maxBytes
        let length = request.headers[.contentLength].flatMap(Int.init)
        if let length, length > limit {
            throw APIError(.contentTooLarge, "REQUEST_TOO_LARGE", "The request body has \(length) bytes; this server accepts at most \(limit).")
        }
        let buffer = try await collect(request.body, limits: limits, expected: length)
        if declaredType == nil && buffer.readableBytes > 0 { throw Self.notJSON(nil) }
        if buffer.readableBytes == 0 { return RequestFields(members: []) }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: buffer.readableBytesView)
        } catch {
            throw APIError(
                .badRequest, "MALFORMED_REQUEST", "The request body is not valid JSON (\(error)). Send a JSON object such as {\"run_id\": \"…\"}.")
        }
        guard case .object(let pairs) = value else {
            throw APIError(.badRequest, "MALFORMED_REQUEST", "The request body must be a JSON object, not \(value.kindName).")
        }
        return RequestFields(members: pairs)
    }

    /// `application/json` or any `+json` type, with or without parameters.
    static func isJSON(_ contentType: String) -> Bool {
        let type = (contentType.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }

    private static func notJSON(_ type: String?) -> APIError {
        APIError(
            .unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
            "The request body is \(type.map { "'\($0.prefix(100))'" } ?? "of no declared type"): send JSON with 'Content-Type: application/json'."
        )
    }

    /// The whole body, at most `limits.maxBytes`, or 408 once `limits.readTimeout` has passed since the first byte
    /// was awaited. The clock is read as each piece arrives: a client that trickles bytes is cut off at its next piece,
    /// and one that sends nothing at all is closed by the idle timeout. No timer per request: a cancelled sleep would
    /// stay scheduled for the whole timeout, and at thousands of requests a second those add up.
    private static func collect(_ body: RequestBody, limits: BodyLimits, expected: Int?) async throws -> ByteBuffer {
        let limit = limits.maxBytes
        let deadline = ContinuousClock.now + limits.readTimeout
        var buffer = ByteBuffer()
        buffer.reserveCapacity(min(expected ?? 0, limit))
        for try await piece in body {
            guard piece.readableBytes <= limit - buffer.readableBytes else {
                throw APIError(.contentTooLarge, "REQUEST_TOO_LARGE", "The request body is larger than this server's limit of \(limit) bytes.")
            }
            var piece = piece
            buffer.writeBuffer(&piece)
            guard ContinuousClock.now <= deadline else {
                throw APIError(
                    .requestTimeout, "REQUEST_TIMEOUT",
                    "The request body did not arrive within \(limits.readTimeout); send it at once, or in a smaller request.")
            }
        }
        return buffer
    }

    func has(_ name: String) -> Bool { member(name).map { $0 != .null } ?? false }

    /// A field of any JSON type, as sent (nil when missing or null).
    func value(_ name: String) -> JSONValue? { member(name).flatMap { $0 == .null ? nil : $0 } }

    func string(_ name: String) throws -> String? {
        switch member(name) {
        case nil, .null?: return nil
        case .string(let value)?: return try Self.withoutNUL(value, name)
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
        case .string(let text) where !text.contains(where: \.isLetter):
            guard let number = Double(text) else { throw APIError.invalidValue(value, for: name, expected: "a number") }
            return number
        default: throw APIError.invalidValue(value, for: name, expected: "a number")
        }
    }

    /// U+0000 is refused in every text field on every backend (PostgreSQL cannot store it, C APIs cut text at it).
    private static func withoutNUL(_ text: String, _ name: String) throws -> String {
        guard !text.utf8.contains(0) else {
            throw APIError(
                .badRequest, "INVALID_PARAMETER_VALUE",
                "Invalid value for parameter '\(name)': it contains U+0000 (NUL), which RunLedger does not store.")
        }
        return text
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
        case .string(let value)?: return [try Self.withoutNUL(value, name)]
        case .array(let values)?:
            return try values.map { value in
                guard case .string(let text) = value else { throw APIError.invalidValue(value, for: name, expected: "a list of strings") }
                return try Self.withoutNUL(text, name)
            }
        case let other?: throw APIError.invalidValue(other, for: name, expected: "a list of strings")
        }
    }

    /// A repeated message field such as `tags` or `metrics`: each element an object.
    /// A required object field.
    func object(_ name: String) throws -> RequestFields {
        switch member(name) {
        case .object(let pairs)?: return RequestFields(members: pairs)
        case nil, .null?: throw APIError.missing(name)
        case let other?: throw APIError.invalidValue(other, for: name, expected: "an object")
        }
    }

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
            throw APIError(
                .badRequest, "INVALID_PARAMETER_VALUE",
                "Invalid experiment id '\(text.prefix(100))': experiment ids are decimal integers such as '0' or '17'.")
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
