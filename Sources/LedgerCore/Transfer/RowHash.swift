/// The 64-bit hash of a row that ``TableDigest`` sums, chosen so that PostgreSQL can compute it itself: each column's
/// value goes through the function PostgreSQL's `hashint8extended`, `hashfloat8extended` or `hashtextextended`
/// computes (Bob Jenkins' lookup3, as in PostgreSQL's `hash_bytes_extended`), seeded with the column's position, and
/// the column hashes are combined with XOR.
///
/// Verifying a copy then costs PostgreSQL one parallel scan (`SELECT count(*), sum(…)`) instead of sending every row
/// back to be hashed here.
public enum RowHash {
    /// The hash of one row.
    public static func row(_ values: [SQLValue?]) -> UInt64 {
        var hash: UInt64 = 0
        for (index, value) in values.enumerated() { hash ^= column(value, at: index) }
        return hash
    }

    /// The hash of the value in column `index` (counted from 0).
    public static func column(_ value: SQLValue?, at index: Int) -> UInt64 {
        let seed = seed(index)
        switch value {
        case nil, .null?: return null(at: index)
        case .integer(let number)?: return int64(number, seed: seed)
        case .real(let number)?: return float64(number, seed: seed)
        case .text(let text)?: return self.text(text, seed: seed)
        case .blob(let data)?: return bytes(hex(data), seed: seed)
        }
    }

    /// Bytes as lowercase hexadecimal, which PostgreSQL hashes as `hashtextextended(encode(bytes, 'hex'), seed)`:
    /// it has no SQL-callable hash of `bytea`.
    public static func hex(_ data: [UInt8]) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(data.count * 2)
        for byte in data {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return text
    }

    /// PostgreSQL's `hashtextextended` under a deterministic collation: the text's UTF-8 bytes.
    public static func text(_ text: String, seed: UInt64) -> UInt64 {
        text.utf8.withContiguousStorageIfAvailable { bytes(UnsafeRawBufferPointer($0), seed: seed) } ?? bytes(Array(text.utf8), seed: seed)
    }

    /// The seed of column `index`: distinct per column, so that equal values in two columns do not cancel.
    public static func seed(_ index: Int) -> UInt64 { UInt64(truncatingIfNeeded: index) &+ 1 }

    /// What a NULL in column `index` contributes (PostgreSQL's hash functions return NULL for NULL).
    public static func null(at index: Int) -> UInt64 {
        int64(Int64(index), seed: 0x6e75_6c6c)
    }

    /// PostgreSQL's `hashint8extended`: the high half folds into the low half so that equal int2, int4 and int8 hash
    /// alike.
    public static func int64(_ value: Int64, seed: UInt64) -> UInt64 {
        let low = UInt32(truncatingIfNeeded: value)
        let high = UInt32(truncatingIfNeeded: value >> 32)
        return uint32(low ^ (value >= 0 ? high : ~high), seed: seed)
    }

    /// PostgreSQL's `hashfloat8extended`: zero and minus zero hash to the seed, every NaN as the standard one.
    public static func float64(_ value: Double, seed: UInt64) -> UInt64 {
        if value == 0 { return seed }
        let bits = value.isNaN ? Double.nan.bitPattern : value.bitPattern
        return withUnsafeBytes(of: bits.littleEndian) { bytes($0, seed: seed) }
    }

    /// PostgreSQL's `hash_bytes_uint32_extended`.
    public static func uint32(_ value: UInt32, seed: UInt64) -> UInt64 {
        var state = State(length: 4, seed: seed)
        state.a &+= value
        state.final()
        return state.result
    }

    /// PostgreSQL's `hash_bytes_extended` (what `hashtextextended` applies to a text's bytes).
    public static func bytes(_ data: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var state = State(length: data.count, seed: seed)
        var offset = 0
        var left = data.count
        func word(_ at: Int) -> UInt32 { UInt32(littleEndian: data.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func byte(_ at: Int, _ shift: UInt32) -> UInt32 { UInt32(data[at]) << shift }
        while left >= 12 {
            state.a &+= word(offset)
            state.b &+= word(offset + 4)
            state.c &+= word(offset + 8)
            state.mix()
            offset += 12
            left -= 12
        }
        // The last 11 bytes; the lowest byte of c is left for the length (already in the initial state).
        if left >= 9 {
            for index in stride(from: left - 1, through: 8, by: -1) { state.c &+= byte(offset + index, UInt32(8 * (index - 7))) }
        }
        if left >= 8 {
            state.b &+= word(offset + 4)
        } else if left >= 5 {
            for index in 4..<left { state.b &+= byte(offset + index, UInt32(8 * (index - 4))) }
        }
        if left >= 4 {
            state.a &+= word(offset)
        } else {
            for index in 0..<left { state.a &+= byte(offset + index, UInt32(8 * index)) }
        }
        state.final()
        return state.result
    }

    public static func bytes(_ data: [UInt8], seed: UInt64) -> UInt64 {
        data.withUnsafeBytes { bytes($0, seed: seed) }
    }

    /// lookup3's three-word state with its `mix` and `final` steps.
    private struct State {
        var a: UInt32
        var b: UInt32
        var c: UInt32

        init(length: Int, seed: UInt64) {
            let start = 0x9e37_79b9 &+ UInt32(truncatingIfNeeded: length) &+ 3_923_095
            (a, b, c) = (start, start, start)
            if seed != 0 {
                a &+= UInt32(truncatingIfNeeded: seed >> 32)
                b &+= UInt32(truncatingIfNeeded: seed)
                mix()
            }
        }

        var result: UInt64 { UInt64(b) << 32 | UInt64(c) }

        private static func rotate(_ x: UInt32, _ k: UInt32) -> UInt32 { x << k | x >> (32 - k) }

        mutating func mix() {
            a &-= c
            a ^= Self.rotate(c, 4)
            c &+= b
            b &-= a
            b ^= Self.rotate(a, 6)
            a &+= c
            c &-= b
            c ^= Self.rotate(b, 8)
            b &+= a
            a &-= c
            a ^= Self.rotate(c, 16)
            c &+= b
            b &-= a
            b ^= Self.rotate(a, 19)
            a &+= c
            c &-= b
            c ^= Self.rotate(b, 4)
            b &+= a
        }

        mutating func final() {
            c ^= b
            c &-= Self.rotate(b, 14)
            a ^= c
            a &-= Self.rotate(c, 11)
            b ^= a
            b &-= Self.rotate(a, 25)
            c ^= b
            c &-= Self.rotate(b, 16)
            a ^= c
            a &-= Self.rotate(c, 4)
            b ^= a
            b &-= Self.rotate(a, 14)
            c ^= b
            c &-= Self.rotate(b, 24)
        }
    }
}
