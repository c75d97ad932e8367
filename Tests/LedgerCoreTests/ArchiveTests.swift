import Foundation
import LedgerCore
import Testing

@Suite("Backup archive format")
struct ArchiveTests {
    static let edgeRows: [[SQLValue?]] = [
        [.integer(.min), .real(.nan), .text("")],
        [.integer(.max), .real(-.infinity), .text("e\u{301}\u{0}nul\ttab\n")],
        [.integer(0), .real(-0.0), nil],
        [.integer(-1), .real(Double(bitPattern: 0x7ff8_0000_dead_beef)), .text(String(repeating: "x", count: 70_000))],
    ]

    static let header = ArchiveHeader(createdAt: 42, backend: "sqlite", schemaVersion: 9, tables: [TransferTable("t", ["a", "b", "c"], lead: "a")])

    static func archive(_ pages: [[[SQLValue?]]] = [edgeRows, [[.integer(7), .real(1), .text("z")]]]) throws -> [UInt8] {
        var encoder = ArchiveEncoder(header)
        var bytes = try encoder.start()
        for page in pages { bytes += encoder.rows(table: 0, page.map(SQLRow.init)) }
        return bytes + (try encoder.finish())
    }

    static func decode(_ bytes: [UInt8], pieces: Int = 1) throws -> (header: ArchiveHeader?, rows: [[SQLValue?]], trailer: ArchiveTrailer?) {
        var decoder = ArchiveDecoder()
        var result: (header: ArchiveHeader?, rows: [[SQLValue?]], trailer: ArchiveTrailer?) = (nil, [], nil)
        let size = max(1, bytes.count / pieces)
        for start in stride(from: 0, to: bytes.count, by: size) {
            decoder.feed(bytes[start..<min(bytes.count, start + size)])
            while let event = try decoder.next() {
                switch event {
                case .header(let header): result.header = header
                case .rows(_, let rows): result.rows += rows
                case .end(let trailer): result.trailer = trailer
                }
            }
        }
        try decoder.checkComplete()
        return result
    }

    @Test("rows round-trip bit for bit, fed whole or in small pieces")
    func roundTrip() throws {
        let bytes = try Self.archive()
        for pieces in [1, 7, 1000] {
            let decoded = try Self.decode(bytes, pieces: pieces)
            #expect(decoded.header == Self.header)
            let expected = Self.edgeRows + [[.integer(7), .real(1), .text("z")]]
            #expect(decoded.rows.count == expected.count)
            for (found, wanted) in zip(decoded.rows, expected) {
                #expect(found.count == wanted.count)
                for (a, b) in zip(found, wanted) {
                    switch (a, b) {
                    case (.real(let x)?, .real(let y)?): #expect(x.bitPattern == y.bitPattern)
                    case (nil, nil), (.null?, nil), (nil, .null?): break
                    default: #expect(a == b)
                    }
                }
            }
            #expect(decoded.trailer?.tables.first?.rows == 5)
        }
    }

    @Test("a truncated archive is refused, whatever byte it stops at")
    func truncated() throws {
        let bytes = try Self.archive()
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 500)) + [bytes.count - 1] {
            #expect(throws: LedgerError.self) { _ = try Self.decode(Array(bytes[0..<length])) }
        }
    }

    @Test("an altered byte, a dropped or repeated frame, or trailing bytes are refused")
    func altered() throws {
        let bytes = try Self.archive()
        for index in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 400)) {
            var changed = bytes
            changed[index] ^= 0x20
            let error = #expect(throws: LedgerError.self) { _ = try Self.decode(changed) }
            #expect(error?.code == .invalidArchive)
        }
        // Frames: the second page (a small frame) dropped, then repeated.
        let pages = [Self.edgeRows, [[.integer(7), .real(1), .text("z")]]]
        var encoder = ArchiveEncoder(Self.header)
        let start = try encoder.start()
        let first = encoder.rows(table: 0, pages[0].map(SQLRow.init))
        let second = encoder.rows(table: 0, pages[1].map(SQLRow.init))
        let end = try encoder.finish()
        #expect(throws: LedgerError.self) { _ = try Self.decode(start + first + end) }
        #expect(throws: LedgerError.self) { _ = try Self.decode(start + first + second + second + end) }
        #expect(throws: LedgerError.self) { _ = try Self.decode(start + second + first + end) }
        #expect(throws: LedgerError.self) { _ = try Self.decode(bytes + [0]) }
        #expect(throws: LedgerError.self) { _ = try Self.decode(Array("not an archive at all, just text".utf8)) }
    }

    @Test("a frame claiming a huge length is refused without waiting for it")
    func hugeFrame() throws {
        var bytes = ArchiveFormat.magic + [UInt8(ascii: "H")]
        bytes += [0xff, 0xff, 0xff, 0x7f] + Array(repeating: 0, count: 8)
        var decoder = ArchiveDecoder()
        decoder.feed(bytes)
        #expect(throws: LedgerError.self) { _ = try decoder.next() }
    }

    @Test("an archive naming a column or table this binary does not know is refused; the catalogue's own columns pass")
    func unknownColumns() throws {
        let runs = try #require(TransferCatalog.table(named: "runs"))
        try runs.check(runs.columns)
        try runs.check(["id", "run_uuid"])
        let error = #expect(throws: LedgerError.self) { try runs.check(["id", "id); DROP TABLE runs; --"]) }
        #expect(error?.code == .invalidArchive && error?.message.contains("newer RunLedger") == true)
        #expect(TransferCatalog.table(named: "runledger_schema_history") == nil)
        // Every table a transfer moves is paged by one of its own columns.
        for table in TransferCatalog.tables { #expect(table.columns.contains(table.lead), "\(table.name)") }
    }

    @Test("table digests ignore row order and see any change")
    func digests() {
        var a = TableDigest()
        var b = TableDigest()
        a.add([.integer(1), .text("x")])
        a.add([.integer(2), .text("y")])
        b.add([.integer(2), .text("y")])
        b.add([.integer(1), .text("x")])
        #expect(a == b)
        var c = b
        c.add([.integer(1), .text("x")])
        #expect(c != b)
        var d = TableDigest()
        d.add([.integer(1), .text("x")])
        d.add([.integer(2), .text("z")])
        #expect(d != a)
        var e = TableDigest()
        e.add([.text("1"), .text("x")])
        e.add([.integer(2), .text("y")])
        #expect(e != a)
    }
}
