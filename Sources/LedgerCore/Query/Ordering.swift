import Foundation

/// Where a run falls for one order key: present values first (in the key's direction), then NaN, then missing.
public struct SortSlot: Sendable, Equatable, Codable {
    /// 0: the run has a (non-NaN) value; 1: the value is NaN; 2: the run lacks the key.
    public var rank: Int
    /// The value when `rank` is 0.
    public var value: SortValue?

    public init(rank: Int, value: SortValue?) {
        self.rank = rank
        self.value = value
    }
}

/// A sortable value: doubles for metrics, integers for times, text for params, tags and text attributes.
public enum SortValue: Sendable, Equatable, Codable {
    case real(Double)
    case integer(Int64)
    case text(String)

    func compare(_ other: SortValue) -> Int {
        switch (self, other) {
        case (.real(let a), .real(let b)): a < b ? -1 : (a > b ? 1 : 0)
        case (.integer(let a), .integer(let b)): a < b ? -1 : (a > b ? 1 : 0)
        case (.text(let a), .text(let b)):
            a.utf8.elementsEqual(b.utf8) ? 0 : (a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1)
        default: 0
        }
    }
}

extension OrderKey {
    /// Where `run` falls for this key.
    public func slot(for run: Run) -> SortSlot {
        switch field {
        case .metric(let key):
            guard let point = run.latestMetrics[key] else { return SortSlot(rank: 2, value: nil) }
            return point.value.isNaN ? SortSlot(rank: 1, value: nil) : SortSlot(rank: 0, value: .real(point.value))
        case .param(let key):
            return run.params[key].map { SortSlot(rank: 0, value: .text($0)) } ?? SortSlot(rank: 2, value: nil)
        case .tag(let key):
            return run.tags[key].map { SortSlot(rank: 0, value: .text($0)) } ?? SortSlot(rank: 2, value: nil)
        case .attribute(.startTime):
            return SortSlot(rank: 0, value: .integer(run.info.startTime))
        case .attribute(.endTime):
            return run.info.endTime.map { SortSlot(rank: 0, value: .integer($0)) } ?? SortSlot(rank: 2, value: nil)
        case .attribute:
            guard case .text(let text)? = field.value(in: run) else { return SortSlot(rank: 2, value: nil) }
            return SortSlot(rank: 0, value: .text(text))
        }
    }
}

/// A run's position in an ordering: one slot per order key, then the run id as the tie-break.
public struct SortPosition: Sendable, Equatable, Codable {
    public var slots: [SortSlot]
    public var runID: String

    /// A position given slot by slot (a page token's contents).
    public init(slots: [SortSlot], runID: String) {
        self.slots = slots
        self.runID = runID
    }

    /// The position of `run` under `order`.
    public init(of run: Run, in order: [OrderKey]) {
        slots = order.map { $0.slot(for: run) }
        runID = run.info.runID.rawValue
    }

    /// Whether `self` comes before `other` under `order` (the reference ordering the backends must reproduce).
    public func precedes(_ other: SortPosition, in order: [OrderKey]) -> Bool {
        for (index, key) in order.enumerated() {
            let a = slots[index]
            let b = other.slots[index]
            if a.rank != b.rank { return a.rank < b.rank }
            guard a.rank == 0, let va = a.value, let vb = b.value else { continue }
            let result = va.compare(vb)
            if result != 0 { return key.ascending ? result < 0 : result > 0 }
        }
        return runID.utf8.lexicographicallyPrecedes(other.runID.utf8)
    }
}

extension Array where Element == Run {
    /// The runs sorted as a search with `order` returns them.
    public func sorted(by order: [OrderKey]) -> [Run] {
        map { (run: $0, position: SortPosition(of: $0, in: order)) }
            .sorted { $0.position.precedes($1.position, in: order) }
            .map(\.run)
    }
}

/// The opaque page token: the position of the last run of a page and the ordering it belongs to.
///
/// Keyset pagination: the next page starts strictly after this position, so runs inserted meanwhile
/// neither shift nor repeat the pages of runs that already existed.
public struct PageCursor: Sendable, Equatable, Codable {
    /// The token format version.
    public var v: Int
    /// The printed ordering, so that a token cannot be used with another ordering.
    public var order: String
    public var position: SortPosition

    public init(order: [OrderKey], position: SortPosition) {
        self.v = 1
        self.order = order.map(\.description).joined(separator: ", ")
        self.position = position
    }

    /// The token text handed to clients: URL-safe base64 without padding, so it travels in query strings as is.
    ///
    /// The JSON inside is the shape `JSONDecoder` reads back into this type (see `init(token:order:)`), written
    /// with ``JSONValue``, which is cheaper than `JSONEncoder` on a path every search page takes.
    public var token: String {
        let json = JSONValue.object([
            ("v", .integer(Int64(v))), ("order", .string(order)),
            ("position", .object([("slots", .array(position.slots.map(Self.json))), ("runID", .string(position.runID))])),
        ])
        // Byte by byte: Foundation's replacingOccurrences bridges through NSString on Linux and cost as much as the
        // JSON encoding itself.
        let base64 = Data(json.utf8).base64EncodedString().utf8
        return String(decoding: base64.compactMap { $0 == UInt8(ascii: "=") ? nil : Self.urlSafe($0, "+", "/", "-", "_") }, as: UTF8.self)
    }

    /// A slot as `Codable` shapes it: the value is left out when absent, an enum case is `{"case": {"_0": payload}}`,
    /// and a non-finite double is the string the decoder's strategy names.
    private static func json(_ slot: SortSlot) -> JSONValue {
        var members: [(String, JSONValue)] = [("rank", .integer(Int64(slot.rank)))]
        let payload: (String, JSONValue)? =
            switch slot.value {
            case .real(let number)?:
                ("real", number.isFinite ? .number(number) : .string(number.isNaN ? "nan" : (number > 0 ? "inf" : "-inf")))
            case .integer(let number)?: ("integer", .integer(number))
            case .text(let text)?: ("text", .string(text))
            case nil: nil
            }
        if let (name, value) = payload { members.append(("value", .object([(name, .object([("_0", value)]))]))) }
        return .object(members)
    }

    /// `byte` with `a` turned into `x` and `b` into `y`: the two characters standard and URL-safe base64 disagree on.
    private static func urlSafe(_ byte: UInt8, _ a: Unicode.Scalar, _ b: Unicode.Scalar, _ x: Unicode.Scalar, _ y: Unicode.Scalar) -> UInt8 {
        byte == UInt8(ascii: a) ? UInt8(ascii: x) : (byte == UInt8(ascii: b) ? UInt8(ascii: y) : byte)
    }

    /// Decodes a token produced for `order`.
    /// - Throws: ``LedgerError/Code/malformedQuery`` for a token that is not one of ours or belongs to another ordering.
    public init(token: String, order: [OrderKey]) throws(LedgerError) {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var base64 = token.utf8.map { Self.urlSafe($0, "-", "_", "+", "/") }
        base64 += Array(repeating: UInt8(ascii: "="), count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: Data(base64)), let cursor = try? decoder.decode(PageCursor.self, from: data), cursor.v == 1,
            cursor.position.slots.count == order.count, RunID(cursor.position.runID) != nil
        else {
            throw LedgerError(.malformedQuery, "Invalid page token: pass the next_page_token of the previous page unchanged.")
        }
        let expected = order.map(\.description).joined(separator: ", ")
        guard cursor.order == expected else {
            throw LedgerError(
                .malformedQuery,
                "Invalid page token: it was made for the ordering '\(cursor.order)', not '\(expected)'. Start again without a token."
            )
        }
        self = cursor
    }
}
