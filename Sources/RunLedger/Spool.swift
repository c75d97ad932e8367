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
/// Each folder holds segment files `NNNNNNNNNNNNNNNN.rlspool`, appended in order. Format version 2 (version 1, still
/// read, has no identity):
///
/// ```text
/// segment := header record*
/// header  := "RLSPOOL" 0x02 length:u16le identity   (magic, format version, the store's ``TrackingStore/identity``)
/// record  := length:u32le crc32c:u32le payload
/// payload := WriteBatch.encoded()                (first byte 1 or 2: version, batch id, operations)
///          | 0x11 id:32 runs keys count points   (packed points, written when spilling: see `RawPoints`)
/// ```
///
/// A record is appended whole and the file fsync'd before the batch counts as durable. A batch leaves the spool only
/// after the store acknowledged it (a segment is deleted once all its records are). A record cut short by a crash, or
/// whose checksum does not match, ends the segment: it and anything after it are reported and skipped.
public enum Spool {
    /// Version 1's header: magic and version only.
    static let magic: [UInt8] = Array("RLSPOOL".utf8) + [1]
    /// Identities longer than this are cut in the header (a database's identity is a path or a URL).
    static let identityLimit = 4096

    /// Version 2's header: magic, version, and the identity of the database the segment's batches are for.
    static func header(identity: String) -> [UInt8] {
        let bytes = Array(identity.utf8.prefix(identityLimit))
        return Array("RLSPOOL".utf8) + [2, UInt8(bytes.count & 0xff), UInt8(bytes.count >> 8)] + bytes
    }

    /// The header's end and identity (nil for version 1), or nil when `bytes` does not start with a header.
    static func parseHeader(_ bytes: [UInt8]) -> (end: Int, identity: String?)? {
        guard bytes.count >= 8, bytes[0..<7].elementsEqual("RLSPOOL".utf8) else { return nil }
        switch bytes[7] {
        case 1: return (8, nil)
        case 2:
            guard bytes.count >= 10 else { return nil }
            let length = Int(bytes[8]) | Int(bytes[9]) << 8
            guard bytes.count >= 10 + length else { return nil }
            return (10 + length, String(decoding: bytes[10..<(10 + length)], as: UTF8.self))
        default: return nil
        }
    }

    /// The identity in a segment's header, reading only the header; nil for version 1 or an unreadable file.
    static func identity(of url: URL) -> String? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: 10 + identityLimit) else { return nil }
        return parseHeader([UInt8](data))?.identity
    }
    static let segmentExtension = "rlspool"
    /// A segment is closed and a new one started past this size; replay holds one decoded segment in memory.
    static let segmentLimit = 8 << 20

    /// What one segment file holds. Records are checked when it is read but decoded one at a time when asked for, so
    /// that replay holds the segment's bytes and one batch, not every batch of it.
    public struct Segment: Sendable {
        public var url: URL
        /// The segment's file, and where each valid record's payload lies in it.
        private var contents: [UInt8] = []
        private var payloads: [Range<Int>] = []
        /// Items in the valid records.
        public private(set) var items = 0
        /// Why reading stopped early (a torn or corrupt record), if it did.
        public var problem: String?
        /// The database the segment's batches are for (nil in segments of format version 1).
        public var identity: String?
        public var bytes: Int { contents.count }
        /// How many valid records there are.
        public var count: Int { payloads.count }

        /// The batch of valid record `index`; every record in `payloads` decoded once when the segment was read, so
        /// the empty batch is unreachable (it would write nothing rather than trap).
        public func batch(at index: Int) -> WriteBatch {
            (try? Spool.decode(Array(contents[payloads[index]]))) ?? WriteBatch([])
        }

        /// Every valid record's batch, decoded at once.
        public var batches: [WriteBatch] { (0..<count).map(batch(at:)) }

        /// Reads a segment, stopping at the first torn or corrupt record.
        init(reading url: URL) {
            guard let contents = Spool.readFile(url) else {
                self.init(url: url, contents: [])
                problem = "cannot read \(url.lastPathComponent)"
                return
            }
            self.init(url: url, contents: contents)
        }

        /// Parses a segment's bytes (as read from `url`), stopping at the first torn or corrupt record: whatever the
        /// bytes, this never traps (the spool fuzz target feeds it arbitrary input).
        public init(url: URL, contents: [UInt8]) {
            self.url = url
            self.contents = contents
            guard let header = Spool.parseHeader(contents) else {
                problem = contents.isEmpty ? nil : "\(url.lastPathComponent) does not start with a spool header (format version 1 or 2)"
                return
            }
            identity = header.identity
            var offset = header.end
            while offset < contents.count {
                guard contents.count - offset >= 8 else {
                    problem = "torn record header at byte \(offset) of \(url.lastPathComponent)"
                    return
                }
                let length = Int(readU32(contents, offset))
                let crc = readU32(contents, offset + 4)
                guard contents.count - offset - 8 >= length else {
                    problem = "torn record at byte \(offset) of \(url.lastPathComponent) (\(length) bytes announced)"
                    return
                }
                let range = (offset + 8)..<(offset + 8 + length)
                let checksum = contents.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[range])) }
                guard checksum == crc else {
                    problem = "corrupt record at byte \(offset) of \(url.lastPathComponent) (checksum mismatch)"
                    return
                }
                let batch: WriteBatch
                do {
                    batch = try decode(Array(contents[range]))
                } catch {
                    problem = "undecodable record at byte \(offset) of \(url.lastPathComponent) (checksum valid; \(error))"
                    return
                }
                payloads.append(range)
                items += batch.itemCount
                offset = range.upperBound
            }
        }
    }

    /// Reads a segment, stopping at the first torn or corrupt record.
    public static func read(_ url: URL) -> Segment { Segment(reading: url) }

    /// A file's bytes, read straight into the array (through `Data` they would be held twice while copied).
    static func readFile(_ url: URL) -> [UInt8]? {
        let descriptor = open(url.path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        let size = Int(info.st_size)
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let got = readBytes(descriptor, buffer.baseAddress! + count, size - count)
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else {
                    failed = got < 0
                    break
                }
                count += got
            }
        }
        return failed ? nil : bytes
    }

    /// The segments of one spool folder, oldest first.
    public static func segments(in folder: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix("." + segmentExtension) }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// The per-ledger folders under a spool root.
    public static func folders(in root: URL) -> [URL] {
        // Hidden names are folders being created or removed (see `SpoolFolderLock`): never another ledger's to adopt.
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { !$0.hasPrefix(".") }
        return names.sorted().map { root.appendingPathComponent($0) }.filter { url in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
        }
    }

    static func decode(_ payload: [UInt8]) throws -> WriteBatch {
        payload.first == RawPoints.kind || payload.first == RawPoints.unpackedKind ? try RawPoints.decode(payload) : try WriteBatch(decoding: payload)
    }

    private static func readU32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    /// A whole record for the batch: header and payload.
    static func record(for batch: WriteBatch) -> [UInt8] {
        let payload = batch.encoded()
        return recordHeader(for: payload) + payload
    }

    /// A record's 8-byte header: `length:u32le crc32c:u32le`.
    static func recordHeader(for payload: [UInt8]) -> [UInt8] {
        var header: [UInt8] = []
        header.reserveCapacity(8)
        for value in [UInt32(payload.count), CRC32C.checksum(payload)] {
            for shift in stride(from: 0, to: 32, by: 8) { header.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
        }
        return header
    }
}

/// The system's read(2), which `Spool.read(_:)` hides inside `Spool`.
private func readBytes(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(descriptor, buffer, count) }

/// An exclusive claim on a spool folder, held for as long as the value lives (an `flock` on `.lock`).
final class SpoolFolderLock {
    let folder: URL
    private let descriptor: Int32

    /// Claims an existing `folder` left by another ledger; nil when a live process holds it, or when it vanished or
    /// was replaced while the claim was being taken (the lock taken must be the one in the folder now).
    init?(adopting folder: URL) {
        let descriptor = open(folder.appendingPathComponent(".lock").path, O_RDWR)
        guard descriptor >= 0 else { return nil }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0, Self.isCurrent(descriptor, folder) else {
            close(descriptor)
            return nil
        }
        self.folder = folder
        self.descriptor = descriptor
    }

    /// Creates `folder` already locked: it is built under a hidden name (which no other ledger adopts), locked there,
    /// then renamed into place, so that no other process ever sees it unlocked.
    init?(creating folder: URL) {
        let staging = folder.deletingLastPathComponent().appendingPathComponent(".new-" + folder.lastPathComponent)
        guard (try? FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)) != nil else { return nil }
        let descriptor = open(staging.appendingPathComponent(".lock").path, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0, rename(staging.path, folder.path) == 0 else {
            if descriptor >= 0 { close(descriptor) }
            try? FileManager.default.removeItem(at: staging)
            return nil
        }
        self.folder = folder
        self.descriptor = descriptor
    }

    /// Whether the locked descriptor is the `.lock` file in `folder` now (not one unlinked by a release meanwhile).
    private static func isCurrent(_ descriptor: Int32, _ folder: URL) -> Bool {
        var held = stat()
        var named = stat()
        guard fstat(descriptor, &held) == 0, stat(folder.appendingPathComponent(".lock").path, &named) == 0 else { return false }
        return held.st_ino == named.st_ino && held.st_dev == named.st_dev
    }

    /// Releases the claim. A folder with nothing but the lock file left is first renamed to a hidden name, still
    /// locked, and removed from there, so that no other process can claim it half-removed.
    func release() {
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0 != ".lock" }
        if leftovers.isEmpty {
            let doomed = folder.deletingLastPathComponent().appendingPathComponent(".gone-" + folder.lastPathComponent)
            if rename(folder.path, doomed.path) == 0 { try? FileManager.default.removeItem(at: doomed) }
        }
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

    /// The system call that writes a record; tests inject one that fails part-way, as a full disk does.
    typealias VectorWrite = (_ descriptor: Int32, _ pieces: UnsafePointer<iovec>, _ count: Int32) -> Int
    private let vectorWrite: VectorWrite

    /// The header every new segment starts with: it names the database the batches are for.
    private let header: [UInt8]

    init(root: URL, identity: String, vectorWrite: @escaping VectorWrite = { writev($0, $1, $2) }) throws {
        self.vectorWrite = vectorWrite
        self.header = Spool.header(identity: identity)
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw LedgerError(
                .invalidParameterValue,
                "Cannot create the spool folder '\(root.path)' (\(error.localizedDescription)). Set spoolDirectory to a writable folder."
            )
        }
        guard let lock = SpoolFolderLock(creating: root.appendingPathComponent(UUID().uuidString.lowercased())) else {
            throw LedgerError(.storeUnavailable, "Cannot create a spool folder under '\(root.path)': check that it is writable.")
        }
        self.lock = lock
        sequence = (Spool.segments(in: lock.folder).last.flatMap { Int($0.deletingPathExtension().lastPathComponent) } ?? 0) + 1
    }

    var folder: URL { lock.folder }

    /// Whether records were written since the last ``sync()``.
    private(set) var unsynced = false
    /// Bytes appended since the last ``sync()``.
    private(set) var unsyncedBytes = 0

    /// Appends the batches as records; they are durable once ``sync()`` returns.
    func append(_ batches: [WriteBatch]) throws {
        try append(payloads: batches.map { $0.encoded() })
    }

    /// Appends ready-made record payloads (encoded batches or raw points). Each record goes out as two pieces, its
    /// header and its payload, in one `writev`: the payload is not copied again, which matters on the spill path.
    ///
    /// All or nothing: when a write fails part-way (a full disk), the segment is cut back to where this call began,
    /// or, if even that fails, left for a new segment, so that no later record ever sits behind a torn one.
    func append(payloads: [[UInt8]]) throws {
        if descriptor < 0 || currentSize > Spool.segmentLimit { try startSegment() }
        let start = currentSize
        do {
            for payload in payloads {
                var header = Spool.recordHeader(for: payload)
                try header.withUnsafeMutableBytes { head in
                    try payload.withUnsafeBytes { body in try writeFully(head, body) }
                }
                currentSize += header.count + payload.count
                unsyncedBytes += header.count + payload.count
            }
        } catch {
            if ftruncate(descriptor, off_t(start)) == 0 {
                currentSize = start
            } else {
                retireSegment()
            }
            throw error
        }
        unsynced = true
    }

    private func writeFully(_ head: UnsafeMutableRawBufferPointer, _ body: UnsafeRawBufferPointer) throws {
        var pieces = [
            iovec(iov_base: head.baseAddress, iov_len: head.count),
            iovec(iov_base: UnsafeMutableRawPointer(mutating: body.baseAddress), iov_len: body.count),
        ]
        var first = 0
        while first < pieces.count {
            // Two pieces, never empty: the base address exists.
            let written = pieces.withUnsafeBufferPointer { vectorWrite(descriptor, $0.baseAddress! + first, Int32($0.count - first)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw LedgerError(.storeUnavailable, "Cannot write the spool in '\(folder.path)': \(String(cString: strerror(errno))).")
            }
            // A short write (a full disk, a signal): skip what went out and write the rest.
            var left = written
            while first < pieces.count && left >= pieces[first].iov_len {
                left -= pieces[first].iov_len
                first += 1
            }
            if first < pieces.count && left > 0 {
                pieces[first].iov_base += left
                pieces[first].iov_len -= left
            }
        }
    }

    /// Makes everything appended so far durable (one fsync for however many records).
    ///
    /// After a failed fsync nothing written since the last sync counts as durable (the kernel may have dropped it), and
    /// the segment is left for a new one.
    func sync() throws {
        guard unsynced else { return }
        for retiredDescriptor in retired + (descriptor >= 0 ? [descriptor] : []) {
            guard fsync(retiredDescriptor) == 0 else {
                let reason = String(cString: strerror(errno))
                retireSegment()
                for stale in retired { close(stale) }
                retired = []
                unsynced = false
                unsyncedBytes = 0
                throw LedgerError(.storeUnavailable, "Cannot sync the spool in '\(folder.path)': \(reason).")
            }
        }
        for retiredDescriptor in retired { close(retiredDescriptor) }
        retired = []
        if directoryUnsynced {
            // New segments' directory entries must be durable too.
            let directory = open(folder.path, O_RDONLY)
            if directory >= 0 {
                fsync(directory)
                close(directory)
            }
            directoryUnsynced = false
        }
        unsynced = false
        unsyncedBytes = 0
    }

    /// Segments closed by a rotation but not yet synced: the next ``sync()`` syncs and closes them, so that rotating
    /// does not stall the writer on an fsync while it is spilling.
    private var retired: [Int32] = []
    private var directoryUnsynced = false

    /// Closes the segment being written, so that everything spooled so far can be replayed.
    func closeSegment() {
        try? sync()
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        current = nil
    }

    /// Segments that are complete (not being written), oldest first.
    func closedSegments() -> [URL] { Spool.segments(in: folder).filter { $0 != current } }

    /// Stops writing the current segment; its descriptor waits for the next sync if it has unsynced records.
    private func retireSegment() {
        if descriptor >= 0 {
            if unsynced { retired.append(descriptor) } else { close(descriptor) }
            descriptor = -1
            current = nil
        }
    }

    private func startSegment() throws {
        retireSegment()
        let url = folder.appendingPathComponent(String(format: "%016d.%@", sequence, Spool.segmentExtension))
        sequence += 1
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        guard descriptor >= 0 else {
            throw LedgerError(.storeUnavailable, "Cannot create a spool segment in '\(folder.path)': \(String(cString: strerror(errno))).")
        }
        current = url
        currentSize = 0
        let headerWritten = header.withUnsafeBytes { buffer in buffer.baseAddress.map { write(descriptor, $0, buffer.count) } == buffer.count }
        guard headerWritten else {
            // A segment without its whole header would hide every record after it: drop it and try afresh next time.
            close(descriptor)
            unlink(url.path)
            descriptor = -1
            current = nil
            throw LedgerError(.storeUnavailable, "Cannot write the spool header in '\(folder.path)': \(String(cString: strerror(errno))).")
        }
        directoryUnsynced = true
        unsynced = true
        currentSize = header.count
    }

    func shutdown() {
        closeSegment()
        lock.release()
    }
}

/// The spill fast path's record: a chunk of points as they wait in memory, packed column-free but delta-coded, so
/// that spilling costs a pass and a checksum instead of an encoding per point, and writes 11 or 12 bytes per point
/// instead of 32 (the disk, not the CPU, limits how fast a writer can spill). Layout (little-endian):
///
/// ```text
/// 0x11  batch id (32 ASCII hex)
/// runs: count varint, then per run  slot:i32 id (32 ASCII hex)
/// keys: count varint, then per key  slot:i32 length varint UTF-8
/// points: count varint, then per point
///         flags:u8                     bit 0: a run slot follows, bit 1: a key slot follows (else: the previous one's)
///         [run slot varint] [key slot varint]
///         step delta, timestamp delta  zigzag varints, from the previous point (the first from 0)
///         value:f64
/// ```
///
/// Kind 0x10, written by earlier builds, has the same header with each point as its 32-byte in-memory record
/// (`run:i32 key:i32 value:f64 timestamp:i64 step:i64`); it is still read.
///
/// Replay turns it into an ordinary write batch (one metrics operation per run) with the same batch id, so it is
/// applied exactly once like any other record.
enum RawPoints {
    static let kind: UInt8 = 0x11
    static let unpackedKind: UInt8 = 0x10
    /// The most bytes one packed point can take: flags, two 5-byte and two 10-byte varints, the value.
    static let maximumPointBytes = 1 + 5 + 5 + 10 + 10 + 8

    static func encode(id: BatchID, points: [PendingPoint], runs: [(Int32, RunID)], keys: [(Int32, String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        encode(id: id, points: points, runs: runs, keys: keys, into: &bytes)
        return bytes
    }

    /// Encodes into `bytes`, replacing what it held but keeping its storage (the spill path reuses one buffer).
    static func encode(id: BatchID, points: [PendingPoint], runs: [(Int32, RunID)], keys: [(Int32, String)], into bytes: inout [UInt8]) {
        var writer = ByteWriter()
        swap(&writer.bytes, &bytes)
        defer { swap(&writer.bytes, &bytes) }
        writer.bytes.removeAll(keepingCapacity: true)
        writer.bytes.reserveCapacity(64 + runs.count * 36 + keys.count * 24 + points.count * maximumPointBytes)
        writer.u8(kind)
        writer.bytes += Array(id.rawValue.utf8)
        writer.varint(runs.count)
        for (slot, run) in runs {
            writer.i32(slot)
            writer.runID(run)
        }
        writer.varint(keys.count)
        for (slot, key) in keys {
            writer.i32(slot)
            writer.string(key)
        }
        writer.varint(points.count)
        let start = writer.bytes.count
        writer.bytes.append(contentsOf: repeatElement(0, count: points.count * maximumPointBytes))
        let used = writer.bytes.withUnsafeMutableBytes { buffer -> Int in
            var out = start
            var run: Int32 = -1
            var key: Int32 = -1
            var step: Int64 = 0
            var timestamp: Int64 = 0
            for point in points {
                let flags: UInt8 = (point.run != run ? 1 : 0) | (point.key != key ? 2 : 0)
                buffer[out] = flags
                out += 1
                if flags & 1 != 0 { putVarint(UInt64(UInt32(bitPattern: point.run)), into: buffer, at: &out) }
                if flags & 2 != 0 { putVarint(UInt64(UInt32(bitPattern: point.key)), into: buffer, at: &out) }
                putVarint(zigzag(point.step &- step), into: buffer, at: &out)
                putVarint(zigzag(point.timestamp &- timestamp), into: buffer, at: &out)
                buffer.storeBytes(of: point.value.bitPattern.littleEndian, toByteOffset: out, as: UInt64.self)
                out += 8
                run = point.run
                key = point.key
                step = point.step
                timestamp = point.timestamp
            }
            return out
        }
        writer.bytes.removeLast(writer.bytes.count - used)
    }

    static func decode(_ payload: [UInt8]) throws -> WriteBatch {
        var reader = ByteReader(bytes: payload, offset: 1)
        guard let id = BatchID(String(decoding: try reader.take(32), as: UTF8.self)) else { throw ByteReader.corrupt("bad batch id") }
        var runs: [Int32: RunID] = [:]
        for _ in 0..<(try reader.count()) {
            let slot = try reader.i32()
            guard let run = RunID(String(decoding: try reader.take(32), as: UTF8.self)) else { throw ByteReader.corrupt("bad run id") }
            runs[slot] = run
        }
        var keys: [Int32: String] = [:]
        for _ in 0..<(try reader.count()) {
            let slot = try reader.i32()
            keys[slot] = try reader.string()
        }
        let count = try reader.count()
        var metrics: [Int32: [Metric]] = [:]
        var order: [Int32] = []
        var run: Int32 = -1
        var keySlot: Int32 = -1
        var step: Int64 = 0
        var timestamp: Int64 = 0
        for _ in 0..<count {
            let value: Double
            if payload[0] == unpackedKind {
                run = try reader.i32()
                keySlot = try reader.i32()
                value = try reader.f64()
                timestamp = try reader.i64()
                step = try reader.i64()
            } else {
                let flags = try reader.u8()
                guard flags & ~3 == 0 else { throw ByteReader.corrupt("unknown point flags") }
                if flags & 1 != 0 { run = Int32(truncatingIfNeeded: try reader.varint()) }
                if flags & 2 != 0 { keySlot = Int32(truncatingIfNeeded: try reader.varint()) }
                step = step &+ unzigzag(try reader.varint())
                timestamp = timestamp &+ unzigzag(try reader.varint())
                value = try reader.f64()
            }
            guard runs[run] != nil, let key = keys[keySlot] else { throw ByteReader.corrupt("a point refers to a run or key not in the record") }
            if metrics[run] == nil { order.append(run) }
            metrics[run, default: []].append(Metric(key: key, value: value, timestamp: timestamp, step: step))
        }
        guard reader.isAtEnd else { throw ByteReader.corrupt("trailing bytes") }
        return WriteBatch(id: id, order.map { .logMetrics(runs[$0]!, metrics[$0]!) })
    }
}
