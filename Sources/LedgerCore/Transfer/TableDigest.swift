/// A table's contents summarised so that two databases can be compared without comparing their row order: the number
/// of rows and the sum (mod 2⁶⁴) of a 64-bit hash of each row's values (``RowHash``, which PostgreSQL computes too).
///
/// Order does not matter because each backend sorts text its own way; the sum still changes when any value of any row
/// changes, when a row is missing, or when one is duplicated.
public struct TableDigest: Sendable, Equatable, Codable {
    public var rows: Int64 = 0
    public var sum: UInt64 = 0

    public init() {}

    public init(rows: Int64, sum: UInt64) {
        self.rows = rows
        self.sum = sum
    }

    /// Adds another digest's rows (of the same table).
    public mutating func add(_ other: TableDigest) {
        rows &+= other.rows
        sum &+= other.sum
    }

    /// Adds one row.
    public mutating func add(_ values: [SQLValue?]) {
        add(hash: RowHash.row(values))
    }

    /// Adds one row given as its hash.
    public mutating func add(hash: UInt64) {
        rows &+= 1
        sum &+= hash
    }

    /// Adds every row of a page.
    public mutating func add(_ rows: [SQLRow]) {
        for row in rows { add(row.values) }
    }

    /// The sum as 16 hex digits, as reports print it.
    public var hex: String {
        let digits = String(sum, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// 64-bit FNV-1a over bytes, finished with a strong mix (splitmix64) so that sums of nearby hashes stay spread: the
/// archive format's frame checksums and trailer digests (docs/archive-format.md).
public struct FNV64: Sendable {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    /// The hash of one row, as an archive's trailer sums it.
    public static func row(_ values: [SQLValue?]) -> UInt64 {
        var hasher = FNV64()
        for value in values { hasher.add(value) }
        return hasher.finalized
    }

    public mutating func add(_ byte: UInt8) {
        state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }

    public mutating func add<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes { add(byte) }
    }

    public mutating func add(_ number: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { add(UInt8(truncatingIfNeeded: number >> UInt64(shift))) }
    }

    /// One value with its kind, so that `1`, `1.0`, `'1'` and NULL all hash differently.
    public mutating func add(_ value: SQLValue?) {
        switch value {
        case nil, .null?: addNull()
        case .integer(let number)?: addInteger(number)
        case .real(let number)?: addReal(number)
        case .text(let text)?: addText(text.utf8)
        case .blob(let data)?:
            add(UInt8(4))
            add(UInt64(data.count))
            add(bytes: data)
        }
    }

    mutating func addNull() { add(UInt8(0)) }

    mutating func addInteger(_ number: Int64) {
        add(UInt8(1))
        add(UInt64(bitPattern: number))
    }

    mutating func addReal(_ number: Double) {
        add(UInt8(2))
        // SQLite stores -0.0 as the integer 0 and reads it back as 0.0: both count as zero.
        add((number == 0 ? 0.0 : number).bitPattern)
    }

    /// Text by its UTF-8 bytes.
    mutating func addText<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        add(UInt8(3))
        add(UInt64(bytes.count))
        add(bytes: bytes)
    }

    public var finalized: UInt64 {
        var z = state &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
