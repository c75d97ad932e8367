public import Foundation
public import LedgerCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The spool: where batches wait, durably, while the store is unreachable or slower than the simulation.
///
/// Layout: a root folder (``LedgerConfiguration/spoolDirectory``) holds one folder per running ledger, named by a
/// UUID and guarded by an exclusive `flock` on its `.lock` file. A folder whose lock can be taken belongs to a process
/// that has gone; the next ledger started on the same root adopts and replays it.
///
/// Each folder holds segment files `NNNNNNNNNNNNNNNN.rlspool`, appended in order. Format version 1:
///
/// ```text
/// segment := header record*
/// header  := "RLSPOOL" 0x01                      (8 bytes: magic and format version)
/// record  := length:u32le crc32c:u32le payload
/// payload := WriteBatch.encoded()                (first byte 1 or 2: version, batch id, operations)
///          | 0x10 id:32 runs keys count points   (raw points, written when spilling: see `RawPoints`)
/// ```
///
/// A record is appended whole and the file fsync'd before the batch counts as durable. A batch leaves the spool only
/// after the store acknowledged it (a segment is deleted once all its records are). A record cut short by a crash, or
/// whose checksum does not match, ends the segment: it and anything after it are reported and skipped.
public enum Spool {
    static let magic: [UInt8] = Array("RLSPOOL".utf8) + [1]
    static let segmentExtension = "rlspool"
    /// A segment is closed and a new one started past this size; replay holds one decoded segment in memory.
    static let segmentLimit = 8 << 20

    /// What one segment file holds.
    public struct Segment: Sendable {
        public var url: URL
        public var batches: [WriteBatch]
        /// Why reading stopped early (a torn or corrupt record), if it did.
        public var problem: String?
        public var bytes: Int
    }

    /// Reads a segment, stopping at the first torn or corrupt record.
    public static func read(_ url: URL) -> Segment {
        guard let data = try? Data(contentsOf: url) else {
            return Segment(url: url, batches: [], problem: "cannot read \(url.lastPathComponent)", bytes: 0)
        }
        let bytes = [UInt8](data)
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            let problem = bytes.isEmpty ? nil : "\(url.lastPathComponent) does not start with the spool header (format version 1)"
            return Segment(url: url, batches: [], problem: problem, bytes: bytes.count)
        }
        var batches: [WriteBatch] = []
        var offset = magic.count
        while offset < bytes.count {
            guard bytes.count - offset >= 8 else {
                return Segment(url: url, batches: batches, problem: "torn record header at byte \(offset) of \(url.lastPathComponent)", bytes: bytes.count)
            }
            let length = Int(readU32(bytes, offset)), crc = readU32(bytes, offset + 4)
            guard bytes.count - offset - 8 >= length else {
                return Segment(url: url, batches: batches, problem: "torn record at byte \(offset) of \(url.lastPathComponent) (\(length) bytes announced)", bytes: bytes.count)
            }
            let payload = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            guard CRC32C.checksum(payload) == crc, let batch = try? decode(payload) else {
                return Segment(url: url, batches: batches, problem: "corrupt record at byte \(offset) of \(url.lastPathComponent) (checksum mismatch)", bytes: bytes.count)
            }
            batches.append(batch)
            offset += 8 + length
        }
        return Segment(url: url, batches: batches, problem: nil, bytes: bytes.count)
    }

    /// The segments of one spool folder, oldest first.
    public static func segments(in folder: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix("." + segmentExtension) }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// The per-ledger folders under a spool root.
    public static func folders(in root: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().map { root.appendingPathComponent($0) }.filter { url in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
        }
    }

    static func decode(_ payload: [UInt8]) throws -> WriteBatch {
        payload.first == RawPoints.kind ? try RawPoints.decode(payload) : try WriteBatch(decoding: payload)
    }

    private static func readU32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    static func record(for batch: WriteBatch) -> [UInt8] {
        var bytes: [UInt8] = []
        appendRecord(for: batch, to: &bytes)
        return bytes
    }

    /// Appends `length crc32c payload` for the batch to `bytes`.
    static func appendRecord(for batch: WriteBatch, to bytes: inout [UInt8]) {
        appendRecord(payload: batch.encoded(), to: &bytes)
    }

    static func appendRecord(payload: [UInt8], to bytes: inout [UInt8]) {
        for value in [UInt32(payload.count), CRC32C.checksum(payload)] {
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
        }
        bytes += payload
    }
}

/// An exclusive claim on a spool folder, held for as long as the value lives (an `flock` on `.lock`).
final class SpoolFolderLock {
    let folder: URL
    private let descriptor: Int32

    /// Claims `folder`, creating it; nil when another live process holds it.
    init?(folder: URL) {
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let descriptor = open(folder.appendingPathComponent(".lock").path, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0 else { return nil }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            return nil
        }
        self.folder = folder
        self.descriptor = descriptor
    }

    /// Releases the claim and removes the folder if nothing but the lock file is left in it.
    func release() {
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0 != ".lock" }
        if leftovers.isEmpty { try? FileManager.default.removeItem(at: folder) }
        close(descriptor)
    }
}

/// Appends batches to this ledger's own spool folder. Used by the writer loop only.
final class SpoolWriter {
    let lock: SpoolFolderLock
    private var descriptor: Int32 = -1
    private var current: URL?
    private var currentSize = 0
    private var sequence: Int

    init(root: URL) throws {
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw LedgerError(
                .invalidParameterValue,
                "Cannot create the spool folder '\(root.path)' (\(error.localizedDescription)). Set spoolDirectory to a writable folder."
            )
        }
        guard let lock = SpoolFolderLock(folder: root.appendingPathComponent(UUID().uuidString.lowercased())) else {
            throw LedgerError(.storeUnavailable, "Cannot create a spool folder under '\(root.path)': check that it is writable.")
        }
        self.lock = lock
        sequence = (Spool.segments(in: lock.folder).last.flatMap { Int($0.deletingPathExtension().lastPathComponent) } ?? 0) + 1
    }

    var folder: URL { lock.folder }

    /// Whether records were written since the last ``sync()``.
    private(set) var unsynced = false

    /// Appends the batches as records; they are durable once ``sync()`` returns.
    func append(_ batches: [WriteBatch]) throws {
        try append(payloads: batches.map { $0.encoded() })
    }

    /// Appends ready-made record payloads (encoded batches or raw points).
    func append(payloads: [[UInt8]]) throws {
        if descriptor < 0 || currentSize > Spool.segmentLimit { try startSegment() }
        var bytes: [UInt8] = []
        for payload in payloads { Spool.appendRecord(payload: payload, to: &bytes) }
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw LedgerError(.storeUnavailable, "Cannot write the spool in '\(folder.path)': \(String(cString: strerror(errno))).")
                }
                offset += written
            }
        }
        currentSize += bytes.count
        unsynced = true
    }

    /// Makes everything appended so far durable (one fsync for however many records).
    func sync() throws {
        guard unsynced, descriptor >= 0 else { return }
        guard fsync(descriptor) == 0 else {
            throw LedgerError(.storeUnavailable, "Cannot sync the spool in '\(folder.path)': \(String(cString: strerror(errno))).")
        }
        unsynced = false
    }

    /// Closes the segment being written, so that everything spooled so far can be replayed.
    func closeSegment() {
        try? sync()
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        current = nil
    }

    /// Segments that are complete (not being written), oldest first.
    func closedSegments() -> [URL] { Spool.segments(in: folder).filter { $0 != current } }

    private func startSegment() throws {
        try sync()
        closeSegment()
        let url = folder.appendingPathComponent(String(format: "%016d.%@", sequence, Spool.segmentExtension))
        sequence += 1
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        guard descriptor >= 0 else {
            throw LedgerError(.storeUnavailable, "Cannot create a spool segment in '\(folder.path)': \(String(cString: strerror(errno))).")
        }
        current = url
        currentSize = 0
        try Spool.magic.withUnsafeBytes { buffer in
            guard write(descriptor, buffer.baseAddress!, buffer.count) == buffer.count else {
                throw LedgerError(.storeUnavailable, "Cannot write the spool header in '\(folder.path)'.")
            }
        }
        // The new file's directory entry must be durable too.
        let directory = open(folder.path, O_RDONLY)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
        currentSize = Spool.magic.count
    }

    func shutdown() {
        closeSegment()
        lock.release()
    }
}

/// The spill fast path's record: a chunk of points exactly as they wait in memory, so that spilling costs a copy
/// and a checksum instead of an encoding per point. Layout (little-endian):
///
/// ```text
/// 0x10  batch id (32 ASCII hex)
/// runs: count varint, then per run  slot:i32 id (32 ASCII hex)
/// keys: count varint, then per key  slot:i32 length varint UTF-8
/// points: count varint, then per point the 32-byte record  run:i32 key:i32 value:f64 timestamp:i64 step:i64
/// ```
///
/// Replay turns it into an ordinary write batch (one metrics operation per run) with the same batch id, so it is
/// applied exactly once like any other record.
enum RawPoints {
    static let kind: UInt8 = 0x10

    static func encode(id: BatchID, points: [PendingPoint], runs: [(Int32, RunID)], keys: [(Int32, String)]) -> [UInt8] {
        var bytes: [UInt8] = [kind]
        bytes.reserveCapacity(64 + runs.count * 36 + keys.count * 24 + points.count * MemoryLayout<PendingPoint>.stride)
        bytes += Array(id.rawValue.utf8)
        varint(runs.count, into: &bytes)
        for (slot, run) in runs {
            int32(slot, into: &bytes)
            bytes += Array(run.rawValue.utf8)
        }
        varint(keys.count, into: &bytes)
        for (slot, key) in keys {
            int32(slot, into: &bytes)
            varint(key.utf8.count, into: &bytes)
            bytes += Array(key.utf8)
        }
        varint(points.count, into: &bytes)
        points.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return bytes
    }

    static func decode(_ payload: [UInt8]) throws -> WriteBatch {
        var offset = 1
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, payload.count - offset >= count else { throw LedgerError(.invalidParameterValue, "Corrupt raw points record.") }
            defer { offset += count }
            return payload[offset..<offset + count]
        }
        func readVarint() throws -> Int {
            var value = 0, shift = 0
            while true {
                let byte = try take(1).first!
                guard shift < 63 else { throw LedgerError(.invalidParameterValue, "Corrupt raw points record.") }
                value |= Int(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }
        func readInt32() throws -> Int32 { Int32(bitPattern: try take(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) }
        guard let id = BatchID(String(decoding: try take(32), as: UTF8.self)) else { throw LedgerError(.invalidParameterValue, "Corrupt raw points record.") }
        var runs: [Int32: RunID] = [:]
        for _ in 0..<(try readVarint()) {
            let slot = try readInt32()
            guard let run = RunID(String(decoding: try take(32), as: UTF8.self)) else { throw LedgerError(.invalidParameterValue, "Corrupt raw points record.") }
            runs[slot] = run
        }
        var keys: [Int32: String] = [:]
        for _ in 0..<(try readVarint()) {
            let slot = try readInt32()
            guard let key = String(validating: try take(try readVarint()), as: UTF8.self) else { throw LedgerError(.invalidParameterValue, "Corrupt raw points record.") }
            keys[slot] = key
        }
        let count = try readVarint()
        let raw = try take(count * MemoryLayout<PendingPoint>.stride)
        var metrics: [Int32: [Metric]] = [:]
        var order: [Int32] = []
        try raw.withUnsafeBytes { buffer in
            for index in 0..<count {
                let point = buffer.loadUnaligned(fromByteOffset: index * MemoryLayout<PendingPoint>.stride, as: PendingPoint.self)
                guard runs[point.run] != nil, let key = keys[point.key] else { throw LedgerError(.invalidParameterValue, "Corrupt raw points record.") }
                if metrics[point.run] == nil { order.append(point.run) }
                metrics[point.run, default: []].append(Metric(key: key, value: point.value, timestamp: point.timestamp, step: point.step))
            }
        }
        guard offset == payload.count else { throw LedgerError(.invalidParameterValue, "Corrupt raw points record.") }
        return WriteBatch(id: id, order.map { .logMetrics(runs[$0]!, metrics[$0]!) })
    }

    private static func varint(_ value: Int, into bytes: inout [UInt8]) {
        var value = UInt64(value)
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private static func int32(_ value: Int32, into bytes: inout [UInt8]) {
        let bits = UInt32(bitPattern: value)
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }
}
