import Foundation

/// The id of an experiment. MLflow spells experiment ids as decimal strings; they are integers underneath.
public struct ExperimentID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The integer value stored in the database.
    public var rawValue: Int64

    /// Wraps a stored integer id.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    /// Parses the decimal string form (`"0"`, `"17"`); nil for anything else.
    public init?(_ string: String) {
        guard let value = Int64(string), value >= 0 else { return nil }
        self.rawValue = value
    }

    /// The experiment every MLflow store has: id 0, named "Default".
    public static let defaultExperiment = ExperimentID(0)

    public var description: String { String(rawValue) }
    public static func < (lhs: ExperimentID, rhs: ExperimentID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The id of a run: 32 lower-case hexadecimal characters, made by whoever creates the run.
///
/// Clients make their own ids so that starting a run works while the store is unreachable.
public struct RunID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 lower-case hex characters.
    public let rawValue: String

    /// Validates a run id; upper-case hex is accepted and lower-cased. Nil unless it is 32 hex characters.
    public init?(_ string: String) {
        guard string.utf8.count == 32, string.utf8.allSatisfy({ $0.isHexDigit }) else { return nil }
        self.rawValue = string.lowercased()
    }

    /// A new random run id.
    public static func random() -> RunID {
        var generator = SystemRandomNumberGenerator()
        return RunID(random: &generator)
    }

    /// A run id drawn from `generator`: deterministic generators give deterministic ids.
    public init(random generator: inout some RandomNumberGenerator) {
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        self.rawValue = hex16(high) + hex16(low)
    }

    /// Parses `string` or throws an error that names it.
    public static func parse(_ string: String) throws(LedgerError) -> RunID {
        guard let id = RunID(string) else {
            throw LedgerError(.invalidParameterValue, "Invalid run id '\(string)': a run id is 32 hexadecimal characters.")
        }
        return id
    }

    public var description: String { rawValue }
    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8) }
}

private func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}

/// An identifier for one write batch, so that a batch delivered twice is applied once.
public struct BatchID: Hashable, Sendable, CustomStringConvertible {
    /// 32 lower-case hex characters, like a run id.
    public let rawValue: String

    /// Validates a batch id (32 hex characters).
    public init?(_ string: String) {
        guard let id = RunID(string) else { return nil }
        self.rawValue = id.rawValue
    }

    /// A new random batch id.
    public static func random() -> BatchID { BatchID(RunID.random().rawValue)! }

    public var description: String { rawValue }
}

/// Reads the wall clock in the unit every RunLedger timestamp uses.
public enum WallClock {
    /// Milliseconds since the Unix epoch, now.
    @Sendable public static func milliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
