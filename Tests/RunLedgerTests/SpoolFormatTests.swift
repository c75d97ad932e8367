import Foundation
import LedgerCore
import Testing

@testable import RunLedger

@Suite("Spool format")
struct SpoolFormatTests {
    @Test("CRC-32C matches the standard check value")
    func crc() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    static let sample = WriteBatch(
        id: BatchID.random(),
        [
            .createRun(NewRun(experimentName: "study", name: "r1", startTime: 5)),
            .createRun(
                NewRun(
                    runID: RunID("0123456789abcdef0123456789abcdef")!, experimentID: ExperimentID(3), name: "", status: .scheduled, startTime: -1,
                    userID: "u")),
            .logMetrics(
                RunID("0123456789abcdef0123456789abcdef")!,
                [
                    Metric(key: "soc", value: .nan, timestamp: 1, step: -2), Metric(key: "soc", value: .infinity, timestamp: 2, step: 3),
                    Metric(key: "é", value: -0.0, timestamp: Int64.max, step: Int64.min),
                ]),
            .logParams(RunID("0123456789abcdef0123456789abcdef")!, [KeyValue("a", "x'y\n"), KeyValue("b", "")]),
            .setTags(RunID("0123456789abcdef0123456789abcdef")!, [KeyValue("t", "v")]),
            .deleteTag(RunID("0123456789abcdef0123456789abcdef")!, key: "t"),
            .updateRun(RunID("0123456789abcdef0123456789abcdef")!, RunUpdate(status: .failed, endTime: 9, name: "n")),
            .updateRun(RunID("0123456789abcdef0123456789abcdef")!, RunUpdate()),
            .heartbeat([RunID("0123456789abcdef0123456789abcdef")!], at: 77),
        ])

    @Test("every operation survives the binary encoding, NaN and infinities included")
    func codecRoundTrip() throws {
        let decoded = try WriteBatch(decoding: Self.sample.encoded())
        #expect(decoded == Self.sample)
        guard case .logMetrics(_, let metrics) = decoded.operations[2] else {
            Issue.record("operation order changed")
            return
        }
        #expect(metrics[0].point.value.isNaN && metrics[2].point.value.sign == .minus)
    }

    @Test("a batch whose last points name a key index above the bytes left decodes (the spool lost whole segments to this)")
    func highKeyIndexAtTheEnd() throws {
        // energy-study's shape: hourly metrics, then 13 KPI keys logged last, each point ~10 bytes.
        let run = RunID.random()
        let keys = (0..<13).map { "kpi_\($0)" }
        for count in 1...13 {
            // The last point names the operation's count-th key: index count - 1, with about 10 bytes left after it.
            let metrics = keys.prefix(count).map { Metric(key: $0, value: 1, timestamp: 1, step: 0) }
            let batch = WriteBatch(id: BatchID.random(), [.logMetrics(run, metrics)])
            #expect(try WriteBatch(decoding: batch.encoded()) == batch, "\(count) points")
        }
    }

    @Test("a version-1 encoding (fixed-width timestamps and steps) still decodes")
    func versionOne() throws {
        func le(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
        let run = "0123456789abcdef0123456789abcdef"
        let bytes: [UInt8] = [1, 0, 1, 2] + Array(run.utf8) + [1, 1] + Array("k".utf8) + [1, 0] + le(1.5.bitPattern) + le(7) + le(3)
        let batch = try WriteBatch(decoding: bytes)
        #expect(batch == WriteBatch([.logMetrics(RunID(run)!, [Metric(key: "k", value: 1.5, timestamp: 7, step: 3)])]))
    }

    @Test("points take about 11 bytes each in the current encoding")
    func compactPoints() {
        let run = RunID.random()
        let metrics = (0..<1000).map { Metric(key: "soc", value: Double($0), timestamp: 1_767_571_200_000 + Int64($0) * 100, step: Int64($0)) }
        let size = WriteBatch([.logMetrics(run, metrics)]).encoded().count
        #expect(size < 1000 * 12 + 100, "\(size) bytes for 1000 points")
    }

    @Test("a raw points record decodes to the batch it stands for, with its id; a damaged one is refused")
    func rawPoints() throws {
        let first = RunID.random()
        let second = RunID.random()
        let points = [
            PendingPoint(run: 7, key: 2, value: .nan, timestamp: 10, step: 1), PendingPoint(run: 9, key: 3, value: -1.5, timestamp: 11, step: 2),
            PendingPoint(run: 7, key: 3, value: .infinity, timestamp: 12, step: 3),
        ]
        let id = BatchID.random()
        let payload = RawPoints.encode(id: id, points: points, runs: [(7, first), (9, second)], keys: [(2, "soc"), (3, "é kw")])
        let batch = try Spool.decode(payload)
        #expect(batch.id == id)
        guard batch.operations.count == 2, case .logMetrics(let run, let metrics) = batch.operations[0] else {
            Issue.record("unexpected operations \(batch.operations)")
            return
        }
        #expect(run == first && metrics.count == 2 && metrics[0].point.value.isNaN && metrics[1].key == "é kw" && metrics[1].point.step == 3)
        #expect(batch.operations[1] == .logMetrics(second, [Metric(key: "é kw", value: -1.5, timestamp: 11, step: 2)]))
        #expect(throws: (any Error).self) { try Spool.decode(Array(payload.dropLast(3))) }
        #expect(throws: (any Error).self) { try Spool.decode(payload + [0]) }
    }

    @Test("packed points survive extreme deltas and come out at about a third of their size in memory")
    func packedPoints() throws {
        let run = RunID.random()
        var points: [PendingPoint] = []
        for index in 0..<10_000 {
            points.append(
                PendingPoint(
                    run: 0, key: Int32(index % 8), value: Double(index) * 0.25, timestamp: 1_700_000_000_000 + Int64(index / 8),
                    step: Int64(index / 8)))
        }
        let keys = (0..<8).map { (Int32($0), "k\($0)") }
        let regular = RawPoints.encode(id: BatchID.random(), points: points, runs: [(0, run)], keys: keys).count
        #expect(regular <= points.count * 12 + 200, "\(regular) bytes for \(points.count) points")
        points += [
            PendingPoint(run: 0, key: 1, value: -0.0, timestamp: .min, step: .max),
            PendingPoint(run: 0, key: 1, value: .greatestFiniteMagnitude, timestamp: .max, step: .min),
        ]
        let payload = RawPoints.encode(id: BatchID.random(), points: points, runs: [(0, run)], keys: keys)
        let batch = try Spool.decode(payload)
        guard case .logMetrics(let id, let metrics) = batch.operations.first else {
            Issue.record("unexpected operations \(batch.operations)")
            return
        }
        #expect(id == run && metrics.count == points.count)
        for (metric, point) in zip(metrics, points) {
            #expect(metric.key == "k\(point.key)" && metric.point.step == point.step && metric.point.timestamp == point.timestamp)
            #expect(metric.point.value.bitPattern == point.value.bitPattern)
        }
    }

    @Test("a record of unpacked points (kind 0x10, written by earlier builds) is still read")
    func unpackedPoints() throws {
        let run = RunID.random()
        let id = BatchID.random()
        let point = PendingPoint(run: 3, key: 5, value: 2.5, timestamp: 77, step: 9)
        var payload: [UInt8] =
            [0x10] + Array(id.rawValue.utf8) + [1, 3, 0, 0, 0] + Array(run.rawValue.utf8) + [1, 5, 0, 0, 0, 3] + Array("soc".utf8) + [1]
        withUnsafeBytes(of: point) { payload += $0 }
        let batch = try Spool.decode(payload)
        #expect(batch.id == id && batch.operations == [.logMetrics(run, [Metric(key: "soc", value: 2.5, timestamp: 77, step: 9)])])
    }

    @Test("truncated or altered encodings are refused, never crash")
    func codecRejectsGarbage() {
        let bytes = Self.sample.encoded()
        for cut in [0, 1, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: LedgerError.self) { try WriteBatch(decoding: Array(bytes.prefix(cut))) }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var noisy = bytes
            noisy[Int.random(in: 0..<noisy.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            _ = try? WriteBatch(decoding: noisy)  // may decode or throw; must not trap
        }
    }

    func spoolWith(_ count: Int) throws -> (root: URL, segment: URL, batches: [WriteBatch]) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")
        let writer = try SpoolWriter(root: root, identity: "sqlite:/test")
        let batches = (0..<count).map { index in
            WriteBatch(id: BatchID.random(), [.heartbeat([RunID.random()], at: Int64(index))])
        }
        for batch in batches { try writer.append([batch]) }
        let segment = try #require(Spool.segments(in: writer.folder).first)
        writer.closeSegment()
        return (root, segment, batches)
    }

    @Test("a torn last record is detected; every record before it reads back")
    func tornTail() throws {
        let (_, segment, batches) = try spoolWith(3)
        #expect(Spool.read(segment).batches == batches && Spool.read(segment).problem == nil)
        let handle = try FileHandle(forWritingTo: segment)
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size - 5)
        try handle.close()
        let read = Spool.read(segment)
        #expect(read.batches == Array(batches.prefix(2)))
        #expect(read.problem?.contains("torn record") == true)
    }

    @Test("a record whose checksum does not match ends the segment and is reported")
    func corruptRecord() throws {
        let (_, segment, batches) = try spoolWith(3)
        var bytes = try Data(contentsOf: segment)
        let first = Spool.record(for: batches[0]).count
        bytes[Spool.header(identity: "sqlite:/test").count + first + 12] ^= 0xFF  // inside the second record's payload
        try bytes.write(to: segment)
        let read = Spool.read(segment)
        #expect(read.batches == [batches[0]])
        #expect(read.problem?.contains("checksum") == true)
    }

    @Test("a spool folder can be claimed by one ledger at a time, is never visible unlocked, and an emptied one vanishes on release")
    func folderLock() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("owner")
        let first = try #require(SpoolFolderLock(creating: folder))
        #expect(SpoolFolderLock(adopting: folder) == nil)
        #expect(Spool.folders(in: root).map(\.lastPathComponent) == ["owner"])
        // A folder with a segment outlives its owner and can be adopted by the next ledger.
        try Data(Spool.magic).write(to: folder.appendingPathComponent("0000000000000001.rlspool"))
        first.release()
        let adopter = try #require(SpoolFolderLock(adopting: folder))
        #expect(SpoolFolderLock(adopting: folder) == nil)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("0000000000000001.rlspool"))
        adopter.release()
        // Emptied and released: gone, hidden leftovers included, so nobody claims it again.
        #expect(SpoolFolderLock(adopting: folder) == nil)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).isEmpty)
        #expect(SpoolFolderLock(creating: folder) != nil)
    }

    @Test("a record whose checksum holds but whose payload does not decode is reported as undecodable, not as a checksum mismatch")
    func undecodableRecord() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("undecodable-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let segment = folder.appendingPathComponent("0000000000000001.rlspool")
        let payload: [UInt8] = [0x7f, 1, 2, 3]
        try Data(Spool.magic + Spool.recordHeader(for: payload) + payload).write(to: segment)
        let read = Spool.read(segment)
        #expect(read.count == 0)
        #expect(read.problem?.contains("undecodable") == true && read.problem?.contains("checksum mismatch") == false, "\(read.problem ?? "")")
    }

    @Test("retry delays grow exponentially with full jitter and stay under the cap")
    func backoff() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        var generator = SystemRandomNumberGenerator()
        var ceilings: [Duration] = []
        for attempt in 0..<10 {
            let delay = backoff.nextDelay(using: &generator)
            let ceiling = min(Duration.seconds(2), .milliseconds(100) * (1 << attempt))
            #expect(delay >= .zero && delay <= ceiling)
            ceilings.append(ceiling)
        }
        #expect(ceilings.last == .seconds(2))
        backoff.reset()
        #expect(backoff.failures == 0)
    }
}

@Suite("Key table")
struct KeyTableTests {
    @Test("interning gives each distinct key one stable slot, across growth and look-alike keys")
    func interning() {
        var table = KeyTable()
        let keys = (0..<500).map { "metric_\($0)" } + ["", "é", "e\u{301}", "a", "A", "a ", String(repeating: "k", count: 250)]
        let slots = keys.map { table.slot(for: $0) }
        #expect(Set(slots).count == keys.count)
        #expect(keys.map { table.slot(for: $0) } == slots)
        #expect(table.keys == keys)
    }
}
