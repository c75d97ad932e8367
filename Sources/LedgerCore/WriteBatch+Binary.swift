/// A compact, versioned binary encoding of ``WriteBatch`` for spools and the wire.
///
/// Little-endian fixed-width integers and doubles, LEB128 lengths, UTF-8 strings. Metric keys are written once per
/// operation in a key table and referenced by index, so a batch of a million points does not repeat its keys.
/// Layout: `version u8`, `hasID u8`, `[id: 32 ASCII hex]`, `count varint`, then per operation a tag byte and
/// its fields (see `encode(_:into:)`). Version 2 writes a point as `key index varint, value f64, timestamp delta
/// zigzag-varint, step delta zigzag-varint` (deltas from the previous point of the operation): about 11 bytes instead
/// of version 1's 25. Both versions decode. Operation tag 8 (events) was added within version 2: older readers refuse
/// a batch that carries it as corrupt rather than misread it.
extension WriteBatch {
    static let binaryVersion: UInt8 = 2

    /// The batch as bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes.reserveCapacity(64 + itemCount * 26)
        writer.u8(Self.binaryVersion)
        if let id {
            writer.u8(1)
            writer.bytes += Array(id.rawValue.utf8)
        } else {
            writer.u8(0)
        }
        writer.varint(operations.count)
        for operation in operations { Self.encode(operation, into: &writer) }
        return writer.bytes
    }

    /// Decodes bytes made by ``encoded()``.
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` for bytes that are not a valid encoding.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        var reader = ByteReader(bytes: bytes)
        let version = try reader.u8()
        guard version == 1 || version == 2 else { throw ByteReader.corrupt("unknown batch encoding version") }
        var id: BatchID? = nil
        if try reader.u8() == 1 {
            guard let parsed = BatchID(try reader.ascii(32)) else { throw ByteReader.corrupt("bad batch id") }
            id = parsed
        }
        let count = try reader.count()
        var operations: [WriteOperation] = []
        operations.reserveCapacity(count)
        for _ in 0..<count { operations.append(try Self.decodeOperation(&reader, version: version)) }
        guard reader.isAtEnd else { throw ByteReader.corrupt("trailing bytes") }
        self.init(id: id, operations)
    }

    private static func encode(_ operation: WriteOperation, into w: inout ByteWriter) {
        switch operation {
        case .createRun(let run):
            w.u8(1)
            w.runID(run.runID)
            w.optionalString(run.experimentName)
            w.i64(run.experimentID.rawValue)
            w.string(run.name)
            w.string(run.status.rawValue)
            w.i64(run.startTime)
            w.string(run.userID)
        case .logMetrics(let runID, let metrics):
            w.u8(2)
            w.runID(runID)
            var keys: [String: Int] = [:]
            var order: [String] = []
            var previous: String? = nil
            for metric in metrics where metric.key != previous {
                previous = metric.key
                if keys[metric.key] == nil {
                    keys[metric.key] = order.count
                    order.append(metric.key)
                }
            }
            w.varint(order.count)
            for key in order { w.string(key) }
            w.varint(metrics.count)
            // The hot part of spooling: points are written straight into one pre-sized buffer (at most 10 bytes of
            // key index, 8 of value and 10 per delta), and a key is hashed only when it differs from the previous one.
            let start = w.bytes.count
            w.bytes.append(contentsOf: repeatElement(0, count: metrics.count * 38))
            let written = w.bytes.withUnsafeMutableBytes { buffer -> Int in
                var offset = start
                var lastKey = ""
                var lastIndex = -1
                var previousTimestamp: Int64 = 0
                var previousStep: Int64 = 0
                @inline(__always) func varint(_ value: UInt64) { putVarint(value, into: buffer, at: &offset) }
                for metric in metrics {
                    if lastIndex < 0 || metric.key != lastKey {
                        lastKey = metric.key
                        lastIndex = keys[metric.key]!
                    }
                    varint(UInt64(lastIndex))
                    buffer.storeBytes(of: metric.point.value.bitPattern.littleEndian, toByteOffset: offset, as: UInt64.self)
                    offset += 8
                    varint(zigzag(metric.point.timestamp &- previousTimestamp))
                    varint(zigzag(metric.point.step &- previousStep))
                    previousTimestamp = metric.point.timestamp
                    previousStep = metric.point.step
                }
                return offset
            }
            w.bytes.removeSubrange(written...)
        case .logParams(let runID, let pairs), .setTags(let runID, let pairs):
            if case .logParams = operation { w.u8(3) } else { w.u8(4) }
            w.runID(runID)
            w.varint(pairs.count)
            for pair in pairs {
                w.string(pair.key)
                w.string(pair.value)
            }
        case .deleteTag(let runID, let key):
            w.u8(5)
            w.runID(runID)
            w.string(key)
        case .updateRun(let runID, let update):
            w.u8(6)
            w.runID(runID)
            w.optionalString(update.status?.rawValue)
            w.u8(update.endTime == nil ? 0 : 1)
            if let end = update.endTime { w.i64(end) }
            w.optionalString(update.name)
        case .heartbeat(let runIDs, let time):
            w.u8(7)
            w.varint(runIDs.count)
            for runID in runIDs { w.runID(runID) }
            w.i64(time)
        case .logEvents(let runID, let events):
            w.u8(8)
            w.runID(runID)
            w.varint(events.count)
            for event in events {
                w.i64(event.timestamp)
                w.u8(UInt8(event.level.rank))
                w.string(event.kind)
                w.string(event.message)
                w.optionalString(event.payload)
            }
        }
    }

    private static func decodeOperation(_ r: inout ByteReader, version: UInt8) throws(LedgerError) -> WriteOperation {
        switch try r.u8() {
        case 1:
            let runID = try r.runID()
            let experimentName = try r.optionalString()
            let experimentID = ExperimentID(try r.i64())
            let name = try r.string()
            guard let status = RunStatus(rawValue: try r.string()) else { throw ByteReader.corrupt("bad status") }
            var run = NewRun(runID: runID, experimentID: experimentID, name: name, status: status, startTime: try r.i64(), userID: try r.string())
            run.experimentName = experimentName
            return .createRun(run)
        case 2:
            let runID = try r.runID()
            let keys = try (0..<r.count()).map { _ throws(LedgerError) in try r.string() }
            let count = try r.count()
            var metrics: [Metric] = []
            metrics.reserveCapacity(count)
            var timestamp: Int64 = 0
            var step: Int64 = 0
            for _ in 0..<count {
                // An index, not a count: it is bounded by the key table, not by the bytes left (the last points of a
                // batch may name key 12 with 10 bytes to go).
                let index = try r.varint()
                guard index < UInt64(keys.count) else { throw ByteReader.corrupt("bad key index") }
                let value = try r.f64()
                if version == 1 {
                    timestamp = try r.i64()
                    step = try r.i64()
                } else {
                    timestamp = timestamp &+ unzigzag(try r.varint())
                    step = step &+ unzigzag(try r.varint())
                }
                metrics.append(Metric(key: keys[Int(index)], value: value, timestamp: timestamp, step: step))
            }
            return .logMetrics(runID, metrics)
        case let tag where tag == 3 || tag == 4:
            let runID = try r.runID()
            let pairs = try (0..<r.count()).map { _ throws(LedgerError) in KeyValue(try r.string(), try r.string()) }
            return tag == 3 ? .logParams(runID, pairs) : .setTags(runID, pairs)
        case 5:
            return .deleteTag(try r.runID(), key: try r.string())
        case 6:
            let runID = try r.runID()
            var update = RunUpdate()
            if let status = try r.optionalString() {
                guard let parsed = RunStatus(rawValue: status) else { throw ByteReader.corrupt("bad status") }
                update.status = parsed
            }
            if try r.u8() == 1 { update.endTime = try r.i64() }
            update.name = try r.optionalString()
            return .updateRun(runID, update)
        case 7:
            let runIDs = try (0..<r.count()).map { _ throws(LedgerError) in try r.runID() }
            return .heartbeat(runIDs, at: try r.i64())
        case 8:
            let runID = try r.runID()
            let events = try (0..<r.count()).map { _ throws(LedgerError) -> RunEvent in
                let timestamp = try r.i64()
                guard let level = EventLevel(rank: Int(try r.u8())) else { throw ByteReader.corrupt("bad event level") }
                return RunEvent(timestamp: timestamp, level: level, kind: try r.string(), message: try r.string(), payload: try r.optionalString())
            }
            return .logEvents(runID, events)
        default:
            throw ByteReader.corrupt("unknown operation")
        }
    }
}

/// Maps signed deltas to unsigned so that small negative numbers stay small varints.
@inline(__always) package func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
@inline(__always) package func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

/// Writes a LEB128 varint at `offset` of a buffer sized for it: the hot loops of the point encodings write this way,
/// because appending byte by byte costs more than the rest.
@inline(__always) package func putVarint(_ value: UInt64, into buffer: UnsafeMutableRawBufferPointer, at offset: inout Int) {
    var value = value
    while value >= 0x80 {
        buffer[offset] = UInt8(truncatingIfNeeded: value) | 0x80
        offset += 1
        value >>= 7
    }
    buffer[offset] = UInt8(value)
    offset += 1
}

/// Builds the binary encodings (shared by the SDK's spool records).
package struct ByteWriter {
    package var bytes: [UInt8] = []

    package init() {}

    package mutating func u8(_ value: UInt8) { bytes.append(value) }

    package mutating func i32(_ value: Int32) {
        withUnsafeBytes(of: UInt32(bitPattern: value).littleEndian) { bytes.append(contentsOf: $0) }
    }

    package mutating func varint(_ value: Int) {
        var remaining = UInt64(value)
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    package mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    package mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }
    package mutating func f64(_ value: Double) { u64(value.bitPattern) }

    package mutating func string(_ value: String) {
        varint(value.utf8.count)
        bytes.append(contentsOf: value.utf8)
    }

    package mutating func optionalString(_ value: String?) {
        u8(value == nil ? 0 : 1)
        if let value { string(value) }
    }

    package mutating func runID(_ id: RunID) { bytes.append(contentsOf: id.rawValue.utf8) }
}

/// Reads the binary encodings; every read checks what is left, so corrupt input fails with an error, never a crash.
package struct ByteReader {
    package let bytes: [UInt8]
    package var offset = 0

    package init(bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    package var isAtEnd: Bool { offset == bytes.count }

    package mutating func i32() throws(LedgerError) -> Int32 {
        var value: UInt32 = 0
        for (index, byte) in try take(4).enumerated() { value |= UInt32(byte) << (8 * UInt32(index)) }
        return Int32(bitPattern: value)
    }

    package static func corrupt(_ what: String) -> LedgerError { LedgerError(.invalidParameterValue, "Corrupt batch encoding: \(what).") }

    package mutating func take(_ count: Int) throws(LedgerError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - offset >= count else { throw Self.corrupt("unexpected end") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    package mutating func u8() throws(LedgerError) -> UInt8 { try take(1).first! }

    package mutating func varint() throws(LedgerError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            guard shift < 64 else { throw Self.corrupt("varint too long") }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A length or count; refuses values larger than what is left, so corrupt input cannot ask for huge allocations.
    package mutating func count() throws(LedgerError) -> Int {
        let value = try varint()
        guard value <= UInt64(bytes.count - offset) else { throw Self.corrupt("count beyond the end") }
        return Int(value)
    }

    package mutating func u64() throws(LedgerError) -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in try take(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        return value
    }

    package mutating func i64() throws(LedgerError) -> Int64 { Int64(bitPattern: try u64()) }
    package mutating func f64() throws(LedgerError) -> Double { Double(bitPattern: try u64()) }

    package mutating func string() throws(LedgerError) -> String {
        let length = try count()
        guard let text = String(validating: try take(length), as: UTF8.self) else { throw Self.corrupt("invalid UTF-8") }
        return text
    }

    package mutating func optionalString() throws(LedgerError) -> String? { try u8() == 1 ? try string() : nil }

    mutating func ascii(_ count: Int) throws(LedgerError) -> String { String(decoding: try take(count), as: UTF8.self) }

    mutating func runID() throws(LedgerError) -> RunID {
        guard let id = RunID(try ascii(32)) else { throw Self.corrupt("bad run id") }
        return id
    }
}
