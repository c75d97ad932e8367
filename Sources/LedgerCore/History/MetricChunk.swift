/// A stretch of one (run, key) history compressed as one chunk, in the manner of Gorilla and Prometheus: steps and
/// timestamps as deltas of deltas, values as the XOR with the previous value (docs/chunk-format.md).
///
/// Lossless: steps and timestamps over the whole Int64 range (deltas wrap), values bit for bit (every NaN payload, ±inf,
/// -0). Points keep the order they were given in.
public enum MetricChunk {
    /// The format this code writes and reads; a chunk starts with it.
    public static let version: UInt8 = 1

    /// The chunk of `points`, in their order.
    public static func encode(_ points: [MetricPoint]) -> [UInt8] {
        var bytes: [UInt8] = [version]
        Varint.append(UInt64(points.count), to: &bytes)
        guard let first = points.first else { return bytes }
        var writer = BitWriter(bytes)
        writer.write(UInt64(bitPattern: first.step), bits: 64)
        writer.write(UInt64(bitPattern: first.timestamp), bits: 64)
        writer.write(first.value.bitPattern, bits: 64)
        var steps = DeltaState(first.step)
        var times = DeltaState(first.timestamp)
        var values = XORState(first.value.bitPattern)
        for point in points.dropFirst() {
            writer.writeDelta(steps.next(point.step))
            writer.writeDelta(times.next(point.timestamp))
            values.write(point.value.bitPattern, to: &writer)
        }
        return writer.finish()
    }

    /// The points of a chunk; a chunk that is damaged, truncated, of another version or with bytes after its points
    /// is refused.
    public static func decode<Bytes: Collection>(_ bytes: Bytes) throws(LedgerError) -> [MetricPoint] where Bytes.Element == UInt8 {
        var points: [MetricPoint] = []
        try visit(bytes, reserve: { points.reserveCapacity($0) }, { points.append($0) })
        return points
    }

    /// Hands each point of a chunk to `body` in order, without building an array (aggregations read millions);
    /// `reserve` learns the count first. Refuses what ``decode(_:)`` refuses, possibly after some points were handed.
    @inline(__always)
    public static func visit<Bytes: Collection>(
        _ bytes: Bytes, reserve: (Int) -> Void = { _ in }, _ body: (MetricPoint) throws(LedgerError) -> Void
    ) throws(LedgerError) where Bytes.Element == UInt8 {
        let bytes = Array(bytes)
        guard let format = bytes.first else { throw damaged("it is empty") }
        guard format == version else {
            throw LedgerError(.invalidArchive, "A metric chunk has format \(format); this RunLedger reads format \(version). Use a matching release.")
        }
        // The point count, a varint as the archive format writes them.
        var header = ArchiveReader(bytes[1...])
        let count: UInt64
        do {
            count = try header.varint()
        } catch {
            throw damaged("its point count is malformed")
        }
        var reader = BitReader(bytes[header.index...])
        guard count > 0 else {
            guard reader.isAtEnd else { throw damaged("it has bytes after its points") }
            return
        }
        // The first point takes 192 bits and every later one at least 3: a count the bytes cannot hold is refused
        // before anything is reserved.
        guard reader.bitsLeft >= 192, count - 1 <= UInt64((reader.bitsLeft - 192) / 3) else {
            throw damaged("it claims \(count) points in \(bytes.count) bytes")
        }
        reserve(Int(count))
        let firstStep = Int64(bitPattern: try reader.read(64))
        let firstTime = Int64(bitPattern: try reader.read(64))
        let firstValue = try reader.read(64)
        try body(MetricPoint(value: Double(bitPattern: firstValue), timestamp: firstTime, step: firstStep))
        var steps = DeltaState(firstStep)
        var times = DeltaState(firstTime)
        var values = XORState(firstValue)
        for _ in 1..<count {
            let step = steps.apply(try reader.readDelta())
            let time = times.apply(try reader.readDelta())
            let value = try values.read(from: &reader)
            try body(MetricPoint(value: Double(bitPattern: value), timestamp: time, step: step))
        }
        guard reader.isAtEnd else { throw damaged("it has bytes after its points") }
    }

    static func damaged(_ what: String) -> LedgerError {
        LedgerError(.invalidArchive, "A metric chunk is damaged: \(what).")
    }
}

/// What a chunk holds, kept beside it so that ranges and aggregates are answered without decoding.
public struct ChunkSummary: Sendable, Equatable {
    public var count = 0
    /// The first and last point's step and timestamp, in the chunk's order.
    public var firstStep: Int64 = 0
    public var lastStep: Int64 = 0
    public var firstTimestamp: Int64 = 0
    public var lastTimestamp: Int64 = 0
    public var minStep: Int64 = .max
    public var maxStep: Int64 = .min
    public var minTimestamp: Int64 = .max
    public var maxTimestamp: Int64 = .min
    /// The smallest and largest value that is not NaN (±inf count); nil when every value is NaN.
    public var min: Double?
    public var max: Double?
    /// The sum of the values that are not NaN (inf, or NaN when +inf and -inf meet, as IEEE addition gives).
    public var sum: Double = 0
    public var nanCount = 0
    /// The last point's value.
    public var lastValue: Double = .nan

    public init() {}

    /// The summary of `points`.
    public init(_ points: [MetricPoint]) {
        for point in points { add(point) }
    }

    /// Counts one more point, after those already counted.
    public mutating func add(_ point: MetricPoint) {
        if count == 0 {
            firstStep = point.step
            firstTimestamp = point.timestamp
        }
        count += 1
        lastStep = point.step
        lastTimestamp = point.timestamp
        lastValue = point.value
        minStep = Swift.min(minStep, point.step)
        maxStep = Swift.max(maxStep, point.step)
        minTimestamp = Swift.min(minTimestamp, point.timestamp)
        maxTimestamp = Swift.max(maxTimestamp, point.timestamp)
        guard !point.value.isNaN else {
            nanCount += 1
            return
        }
        min = Swift.min(min ?? point.value, point.value)
        max = Swift.max(max ?? point.value, point.value)
        sum += point.value
    }
}

/// Deltas of deltas, wrapping: any two Int64s have a delta modulo 2⁶⁴, so nothing overflows and nothing is lost.
private struct DeltaState {
    var previous: Int64
    var delta: Int64 = 0

    init(_ first: Int64) { previous = first }

    /// The delta of delta that takes the series to `value`.
    mutating func next(_ value: Int64) -> Int64 {
        let newDelta = value &- previous
        defer {
            previous = value
            delta = newDelta
        }
        return newDelta &- delta
    }

    /// The value a delta of delta leads to.
    mutating func apply(_ deltaOfDelta: Int64) -> Int64 {
        delta = delta &+ deltaOfDelta
        previous = previous &+ delta
        return previous
    }
}

/// Gorilla's value encoding: '0' for the same bits as before; otherwise '1', then either '0' and the changed bits
/// inside the previous window of meaningful bits, or '1', 5 bits of leading zeros, 6 bits of length − 1 and the bits.
private struct XORState {
    var previous: UInt64
    var leading = 0
    var trailing = 0
    var hasWindow = false

    init(_ first: UInt64) { previous = first }

    mutating func write(_ bits: UInt64, to writer: inout BitWriter) {
        let xor = bits ^ previous
        previous = bits
        guard xor != 0 else {
            writer.write(0, bits: 1)
            return
        }
        let lead = Swift.min(xor.leadingZeroBitCount, 31)
        let trail = xor.trailingZeroBitCount
        if hasWindow && lead >= leading && trail >= trailing {
            writer.write(0b10, bits: 2)
            writer.write(xor >> UInt64(trailing), bits: 64 - leading - trailing)
            return
        }
        (leading, trailing, hasWindow) = (lead, trail, true)
        let length = 64 - lead - trail
        writer.write(0b11, bits: 2)
        writer.write(UInt64(lead), bits: 5)
        writer.write(UInt64(length - 1), bits: 6)
        writer.write(xor >> UInt64(trail), bits: length)
    }

    @inline(__always)
    mutating func read(from reader: inout BitReader) throws(LedgerError) -> UInt64 {
        guard try reader.read(1) == 1 else { return previous }
        if try reader.read(1) == 1 {
            let lead = Int(try reader.read(5))
            let length = Int(try reader.read(6)) + 1
            guard lead + length <= 64 else { throw MetricChunk.damaged("a value's bit window is out of range") }
            (leading, trailing, hasWindow) = (lead, 64 - lead - length, true)
        } else if !hasWindow {
            throw MetricChunk.damaged("a value reuses a bit window before any was set")
        }
        let bits = try reader.read(64 - leading - trailing)
        previous ^= bits << UInt64(trailing)
        return previous
    }
}

/// Appends bits, most significant first, to bytes.
private struct BitWriter {
    private var bytes: [UInt8]
    private var pending: UInt64 = 0
    private var pendingBits = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The low `count` bits of `value` (0…64). Swift's `<<` and `>>` give 0 past the width, which the edges rely on.
    mutating func write(_ value: UInt64, bits count: Int) {
        guard count > 0 else { return }
        let value = count == 64 ? value : value & ((1 << UInt64(count)) - 1)
        if pendingBits + count <= 64 {
            pending = (pending << UInt64(count)) | value
            pendingBits += count
        } else {
            // At most 31 bits are pending here (whole bytes leave at 32), so the rest is under 64 bits.
            let rest = count - (64 - pendingBits)
            pending = (pending << UInt64(64 - pendingBits)) | (value >> UInt64(rest))
            pendingBits = 64
            flushWhole()
            pending = value & ((1 << UInt64(rest)) - 1)
            pendingBits = rest
        }
        if pendingBits >= 32 { flushWhole() }
    }

    /// Delta-of-delta buckets: '0' for 0, then '10' + 7 bits, '110' + 9, '1110' + 12, '11110' + 32, '11111' + 64.
    mutating func writeDelta(_ value: Int64) {
        switch value {
        case 0: write(0, bits: 1)
        case -64...63: writeTagged(0b10, 2, value, 7)
        case -256...255: writeTagged(0b110, 3, value, 9)
        case -2048...2047: writeTagged(0b1110, 4, value, 12)
        case Int64(Int32.min)...Int64(Int32.max): writeTagged(0b11110, 5, value, 32)
        default: writeTagged(0b11111, 5, value, 64)
        }
    }

    private mutating func writeTagged(_ tag: UInt64, _ tagBits: Int, _ value: Int64, _ bits: Int) {
        write(tag, bits: tagBits)
        write(UInt64(bitPattern: value), bits: bits)
    }

    /// Moves whole bytes out of the pending word.
    private mutating func flushWhole() {
        while pendingBits >= 8 {
            pendingBits -= 8
            bytes.append(UInt8(truncatingIfNeeded: pending >> UInt64(pendingBits)))
        }
    }

    /// The bytes, the last one padded with zero bits.
    mutating func finish() -> [UInt8] {
        flushWhole()
        if pendingBits > 0 { bytes.append(UInt8(truncatingIfNeeded: pending << UInt64(8 - pendingBits))) }
        pendingBits = 0
        return bytes
    }
}

/// Reads bits, most significant first; every read is bounded by the bits left.
private struct BitReader {
    private let bytes: ArraySlice<UInt8>
    private var position = 0
    /// The next bytes, left-aligned, so that a read takes its bits from the top.
    private var buffer: UInt64 = 0
    private var buffered = 0
    private var next: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        next = bytes.startIndex
    }

    var bitsLeft: Int { bytes.count * 8 - position }

    /// Whether only the last byte's zero padding is left.
    var isAtEnd: Bool {
        guard bitsLeft < 8 else { return false }
        guard bitsLeft > 0, let last = bytes.last else { return true }
        return last & UInt8((1 << bitsLeft) - 1) == 0
    }

    /// `count` bits (0…64) as the low bits of the result.
    @inline(__always)
    mutating func read(_ count: Int) throws(LedgerError) -> UInt64 {
        guard count > 56 else { return try readShort(count) }
        let high = try readShort(count - 32)
        return high << 32 | (try readShort(32))
    }

    /// At most 56 bits: one refill always has them.
    @inline(__always)
    private mutating func readShort(_ count: Int) throws(LedgerError) -> UInt64 {
        guard count <= bitsLeft else { throw MetricChunk.damaged("it is truncated") }
        if buffered < count { refill() }
        let value = buffer >> UInt64(64 - count)
        buffer <<= UInt64(count)
        buffered -= count
        position += count
        return value
    }

    /// Loads whole bytes while they fit: afterwards at least 57 bits are buffered, or every bit that is left.
    @inline(__always)
    private mutating func refill() {
        while buffered <= 56 && next < bytes.endIndex {
            buffer |= UInt64(bytes[next]) << UInt64(56 - buffered)
            next += 1
            buffered += 8
        }
    }

    @inline(__always)
    mutating func readDelta() throws(LedgerError) -> Int64 {
        // A regular series' deltas do not change: a single 0 bit, read here without a call.
        if buffered > 0 && buffer >> 63 == 0 {
            buffer <<= 1
            buffered -= 1
            position += 1
            return 0
        }
        return try readTaggedDelta()
    }

    @inline(never)
    private mutating func readTaggedDelta() throws(LedgerError) -> Int64 {
        // The tag is up to four ones ended by a zero, or five ones: counted at once from the buffered bits. Bits past
        // `buffered` are zero, so the count never runs past the data; a tag cut short by the end is truncation.
        if buffered < 5 { refill() }
        let ones = Swift.min(5, (~buffer).leadingZeroBitCount)
        let tagBits = ones < 5 ? ones + 1 : 5
        guard tagBits <= buffered else { throw MetricChunk.damaged("it is truncated") }
        buffer <<= UInt64(tagBits)
        buffered -= tagBits
        position += tagBits
        let bits: Int
        switch ones {
        case 0: return 0
        case 1: bits = 7
        case 2: bits = 9
        case 3: bits = 12
        case 4: bits = 32
        default: bits = 64
        }
        let raw = try read(bits)
        // Sign-extend from `bits` bits.
        let shift = UInt64(64 - bits)
        return Int64(bitPattern: raw << shift) >> Int64(shift)
    }
}
