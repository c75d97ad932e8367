import Foundation

/// The portable archive `runledger backup` writes and `runledger restore` reads (docs/archive-format.md).
///
/// A magic line, then frames: `type (1 byte) · payload length (u32 LE) · checksum (u64 LE) · payload`. Each checksum
/// covers the frame's type and payload and the checksum of the frame before it, so a frame altered, dropped, repeated
/// or moved breaks the chain. Frames: one header (`H`, JSON), row frames (`R`), and one trailer (`Z`, JSON) holding
/// the frame count and every table's row count and sum of ``FNV64/row(_:)`` hashes; an archive without its trailer is truncated.
public enum ArchiveFormat {
    public static let magic: [UInt8] = Array("RUNLEDGER-ARCHIVE\n".utf8)
    /// 2: metric history as chunks (`metric_chunks`, bytes values); 1 held one row per point.
    public static let version = 2
    /// The largest frame a reader accepts; writers stay far below it.
    public static let maximumFrame = 64 << 20
    static let frameHead = 13
}

/// What an archive says about itself before its rows.
public struct ArchiveHeader: Sendable, Codable, Equatable {
    public struct Table: Sendable, Codable, Equatable {
        public var name: String
        public var columns: [String]
    }

    public var format: Int
    /// Milliseconds since the Unix epoch.
    public var createdAt: Int64
    /// `sqlite` or `postgres`: informational.
    public var backend: String
    /// The newest migration applied to the database the archive was taken from.
    public var schemaVersion: Int
    public var tables: [Table]

    public init(createdAt: Int64, backend: String, schemaVersion: Int, tables: [TransferTable] = TransferCatalog.tables) {
        format = ArchiveFormat.version
        self.createdAt = createdAt
        self.backend = backend
        self.schemaVersion = schemaVersion
        self.tables = tables.map { Table(name: $0.name, columns: $0.columns) }
    }
}

/// The archive's last frame: how many frames came before it and what every table holds.
public struct ArchiveTrailer: Sendable, Codable, Equatable {
    public struct Table: Sendable, Codable, Equatable {
        public var name: String
        public var rows: Int64
        public var digest: String
    }

    public var frames: Int
    public var tables: [Table]
}

/// Writes an archive's bytes, frame by frame (the caller writes them to a file).
public struct ArchiveEncoder: Sendable {
    private var chain: UInt64 = 0
    private var frames = 0
    private var digests: [TableDigest]
    private let header: ArchiveHeader

    public init(_ header: ArchiveHeader) {
        self.header = header
        digests = Array(repeating: TableDigest(), count: header.tables.count)
    }

    /// The magic line and the header frame.
    public mutating func start() throws -> [UInt8] {
        ArchiveFormat.magic + frame("H", Array(try JSONEncoder().encode(header)))
    }

    /// A frame of rows of the header's table `index`.
    public mutating func rows(table index: Int, _ rows: [SQLRow]) -> [UInt8] {
        var payload: [UInt8] = []
        payload.reserveCapacity(rows.count * 48)
        Varint.append(UInt64(index), to: &payload)
        Varint.append(UInt64(rows.count), to: &payload)
        for row in rows {
            digests[index].add(hash: FNV64.row(row.values))
            for value in row.values { ArchiveValue.append(value, to: &payload) }
        }
        return frame("R", payload)
    }

    /// The trailer frame; the archive is complete once it is written.
    public mutating func finish() throws -> [UInt8] {
        let tables = zip(header.tables, digests).map { ArchiveTrailer.Table(name: $0.name, rows: $1.rows, digest: $1.hex) }
        return frame("Z", Array(try JSONEncoder().encode(ArchiveTrailer(frames: frames, tables: tables))))
    }

    /// What each table held, as written so far.
    public var written: [TableDigest] { digests }

    private mutating func frame(_ type: Character, _ payload: [UInt8]) -> [UInt8] {
        let typeByte = type.asciiValue ?? 0
        chain = ArchiveChecksum.frame(type: typeByte, payload: payload, previous: chain)
        frames += 1
        var bytes: [UInt8] = [typeByte]
        bytes.reserveCapacity(payload.count + ArchiveFormat.frameHead)
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: chain.littleEndian) { bytes += $0 }
        return bytes + payload
    }
}

/// What a reader finds in an archive, in order.
public enum ArchiveEvent: Sendable {
    case header(ArchiveHeader)
    /// Rows of the header's table `table`, each with the header's columns of that table.
    case rows(table: Int, [[SQLValue?]])
    case end(ArchiveTrailer)
}

/// Reads an archive fed in pieces, checking every frame; refuses anything damaged with ``LedgerError/Code/invalidArchive``.
public struct ArchiveDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var offset = 0
    private var consumed = 0
    private var chain: UInt64 = 0
    private var frames = 0
    private var header: ArchiveHeader?
    private var digests: [TableDigest] = []
    /// Each header table's rows as ``TableDigest`` sums them with ``RowHash``: what a restored database must hold.
    public private(set) var contents: [TableDigest] = []
    private var ended = false
    private var sawMagic = false

    public init() {}

    /// Appends bytes read from the file.
    public mutating func feed<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if offset > 1 << 20 {
            buffer.removeFirst(offset)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next event, or nil when more bytes are needed.
    public mutating func next() throws(LedgerError) -> ArchiveEvent? {
        if !sawMagic {
            guard buffer.count - offset >= ArchiveFormat.magic.count else { return nil }
            guard Array(buffer[offset..<offset + ArchiveFormat.magic.count]) == ArchiveFormat.magic else {
                throw damaged("it does not start with a RunLedger archive's magic line; is it an archive written by `runledger backup`?")
            }
            advance(ArchiveFormat.magic.count)
            sawMagic = true
        }
        guard !ended else {
            guard offset == buffer.count else { throw damaged("it continues after its trailer") }
            return nil
        }
        guard buffer.count - offset >= ArchiveFormat.frameHead else { return nil }
        let type = buffer[offset]
        let length = Int(readUInt32(at: offset + 1))
        let checksum = readUInt64(at: offset + 5)
        guard length <= ArchiveFormat.maximumFrame else { throw damaged("a frame claims \(length) bytes") }
        guard buffer.count - offset - ArchiveFormat.frameHead >= length else { return nil }
        let start = offset + ArchiveFormat.frameHead
        let payload = buffer[start..<start + length]
        let expected = ArchiveChecksum.frame(type: type, payload: payload, previous: chain)
        guard expected == checksum else { throw damaged("frame \(frames + 1) (at byte \(consumed)) fails its checksum") }
        chain = checksum
        advance(ArchiveFormat.frameHead + length)
        defer { frames += 1 }
        switch (type, header) {
        case (UInt8(ascii: "H"), nil):
            guard let decoded = try? JSONDecoder().decode(ArchiveHeader.self, from: Data(payload)) else { throw damaged("its header is unreadable") }
            guard decoded.format != 1 else {
                throw LedgerError(
                    .invalidArchive,
                    "The archive has format 1 (metric history one row per point), written before RunLedger stored history as chunks. "
                        + "Restore it with the release that wrote it, then run `runledger migrate up`, which converts the history.")
            }
            guard decoded.format == ArchiveFormat.version else {
                throw LedgerError(
                    .invalidArchive,
                    "The archive has format \(decoded.format); this RunLedger reads format \(ArchiveFormat.version). Use a matching release.")
            }
            guard decoded.tables.allSatisfy({ !$0.columns.isEmpty }) else { throw damaged("its header names a table without columns") }
            header = decoded
            digests = Array(repeating: TableDigest(), count: decoded.tables.count)
            contents = digests
            return .header(decoded)
        case (UInt8(ascii: "R"), let header?):
            var reader = ArchiveReader(payload)
            let index = try reader.count(below: header.tables.count, "a table index")
            let width = header.tables[index].columns.count
            // Every value takes at least a byte: a count the payload cannot hold is refused before anything is reserved.
            let count = try reader.count(below: length / max(1, width) + 1, "a row count")
            var rows: [[SQLValue?]] = []
            rows.reserveCapacity(count)
            for _ in 0..<count {
                var row: [SQLValue?] = []
                row.reserveCapacity(min(width, length))
                for _ in 0..<width { row.append(try reader.value()) }
                digests[index].add(hash: FNV64.row(row))
                contents[index].add(row)
                rows.append(row)
            }
            guard reader.isAtEnd else { throw damaged("frame \(frames + 1) has bytes after its rows") }
            return .rows(table: index, rows)
        case (UInt8(ascii: "Z"), let header?):
            guard let trailer = try? JSONDecoder().decode(ArchiveTrailer.self, from: Data(payload)) else {
                throw damaged("its trailer is unreadable")
            }
            guard trailer.frames == frames else { throw damaged("its trailer counts \(trailer.frames) frames, the file holds \(frames)") }
            let found = zip(header.tables, digests).map { ArchiveTrailer.Table(name: $0.name, rows: $1.rows, digest: $1.hex) }
            guard found == trailer.tables else { throw damaged("its rows do not match the digests in its trailer") }
            ended = true
            return .end(trailer)
        default:
            throw damaged("frame \(frames + 1) is of an unexpected kind")
        }
    }

    /// Call at the end of the file: refuses an archive that stops before its trailer.
    public func checkComplete() throws(LedgerError) {
        guard ended else { throw damaged("it is truncated (it ends before its trailer, after \(consumed + buffer.count - offset) bytes)") }
    }

    private mutating func advance(_ count: Int) {
        offset += count
        consumed += count
    }

    private func readUInt32(at index: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(buffer[index + $1]) << (8 * UInt32($1)) }
    }

    private func readUInt64(at index: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(buffer[index + $1]) << (8 * UInt64($1)) }
    }

    private func damaged(_ what: String) -> LedgerError {
        LedgerError(.invalidArchive, "The archive is damaged: \(what). Nothing was restored.")
    }
}

enum ArchiveChecksum {
    static func frame<Payload: Collection>(type: UInt8, payload: Payload, previous: UInt64) -> UInt64 where Payload.Element == UInt8 {
        var hasher = FNV64()
        hasher.add(previous)
        hasher.add(type)
        hasher.add(UInt64(payload.count))
        hasher.add(bytes: payload)
        return hasher.finalized
    }
}

/// One value: a kind byte (0 NULL, 1 integer as a zigzag varint, 2 double as 8 bytes LE, 3 text as varint length
/// and UTF-8, 4 bytes as varint length and the bytes), so doubles round-trip bit for bit (NaN, ±inf).
enum ArchiveValue {
    static func append(_ value: SQLValue?, to bytes: inout [UInt8]) {
        switch value {
        case nil, .null?: bytes.append(0)
        case .integer(let number)?:
            bytes.append(1)
            Varint.append(UInt64(bitPattern: (number << 1) ^ (number >> 63)), to: &bytes)
        case .real(let number)?:
            bytes.append(2)
            withUnsafeBytes(of: number.bitPattern.littleEndian) { bytes += $0 }
        case .text(let text)?:
            bytes.append(3)
            Varint.append(UInt64(text.utf8.count), to: &bytes)
            bytes += text.utf8
        case .blob(let data)?:
            bytes.append(4)
            Varint.append(UInt64(data.count), to: &bytes)
            bytes += data
        }
    }
}

enum Varint {
    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}

/// Reads an archive frame's payload (and a metric chunk's point count); every read is bounded by the bytes left.
struct ArchiveReader {
    private let bytes: ArraySlice<UInt8>
    /// Where the next read starts, as an index of the slice it was given.
    private(set) var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    var isAtEnd: Bool { index == bytes.endIndex }

    private func damaged(_ what: String) -> LedgerError {
        LedgerError(.invalidArchive, "The archive is damaged: \(what) is malformed. Nothing was restored.")
    }

    mutating func varint() throws(LedgerError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.endIndex, shift < 64 {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        throw damaged("a number")
    }

    mutating func count(below limit: Int, _ what: String) throws(LedgerError) -> Int {
        let value = try varint()
        guard value < UInt64(limit) else { throw damaged(what) }
        return Int(value)
    }

    mutating func value() throws(LedgerError) -> SQLValue? {
        guard index < bytes.endIndex else { throw damaged("a row") }
        let kind = bytes[index]
        index += 1
        switch kind {
        case 0: return .null
        case 1:
            let zigzag = try varint()
            return .integer(Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1))
        case 2:
            guard bytes.endIndex - index >= 8 else { throw damaged("a number") }
            let bits = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[index + $1]) << (8 * UInt64($1)) }
            index += 8
            return .real(Double(bitPattern: bits))
        case 3:
            let length = try count(below: bytes.endIndex - index + 1, "a text length")
            let text = String(decoding: bytes[index..<index + length], as: UTF8.self)
            index += length
            return .text(text)
        case 4:
            let length = try count(below: bytes.endIndex - index + 1, "a byte string's length")
            let data = Array(bytes[index..<index + length])
            index += length
            return .blob(data)
        default: throw damaged("a value")
        }
    }
}
