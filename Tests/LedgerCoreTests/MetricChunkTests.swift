import EnergySimulation
import LedgerCore
import Testing

/// The chunk codec of metric histories: lossless for every step, timestamp and value bit, small for regular series,
/// and refusing damaged bytes without trapping.
@Suite("Metric chunks")
struct MetricChunkTests {
    /// Steps, timestamps and value bits: what must survive exactly (MetricPoint's == treats all NaNs as one).
    static func bits(_ points: [MetricPoint]) -> [[UInt64]] {
        points.map { [UInt64(bitPattern: $0.step), UInt64(bitPattern: $0.timestamp), $0.value.bitPattern] }
    }

    static func roundTrip(_ points: [MetricPoint]) throws -> [UInt8] {
        let bytes = MetricChunk.encode(points)
        #expect(Self.bits(try MetricChunk.decode(bytes)) == Self.bits(points))
        return bytes
    }

    @Test("edge values round-trip bit for bit: Int64 limits, wrapping deltas, NaN payloads, ±inf, -0, subnormals")
    func edges() throws {
        let steps: [Int64] = [0, .min, .max, -1, 5, 5, 4, .max, .min, 0, 1 << 40, -(1 << 40), 63, -64, 64, 255, -256, 2047, -2048]
        let values: [Double] = [
            .nan, Double(bitPattern: 0x7ff8_dead_beef_0001), Double(bitPattern: 0xfff0_0000_0000_0001), -0.0, 0, .infinity, -.infinity,
            .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-300, 1, 1, 1.5, -2.25, .pi, 0, -0.0, .nan,
        ]
        let points = steps.indices.map { MetricPoint(value: values[$0], timestamp: steps[steps.count - 1 - $0], step: steps[$0]) }
        _ = try Self.roundTrip(points)
        _ = try Self.roundTrip([])
        _ = try Self.roundTrip([MetricPoint(value: .nan, timestamp: .min, step: .max)])
    }

    @Test("the documented layout: chunks written by hand from docs/chunk-format.md decode, and encode back to the same bytes")
    func documentedLayout() throws {
        let first: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]
        // Step 0, time 1,700,000,000,000, value 1.0, then the same point again: three '0' bits, padded to a byte.
        let repeated: [UInt8] = [1, 2] + first + [0x00]
        let start = MetricPoint(value: 1, timestamp: 1_700_000_000_000, step: 0)
        #expect(Self.bits(try MetricChunk.decode(repeated)) == Self.bits([start, start]))
        #expect(MetricChunk.encode([start, start]) == repeated)
        // Then step 1, time +1,000 ms, value 2.0: '10'+7 bits, '1110'+12 bits, '11'+5+6 bits and 11 meaningful bits.
        let moved: [UInt8] = [1, 2] + first + [0x80, 0xf1, 0xf4, 0x61, 0x2b, 0xff, 0x80]
        let next = MetricPoint(value: 2, timestamp: 1_700_000_001_000, step: 1)
        #expect(Self.bits(try MetricChunk.decode(moved)) == Self.bits([start, next]))
        #expect(MetricChunk.encode([start, next]) == moved)
    }

    @Test("seeded random series round-trip: walks, jumps, repeats and noise, 1 to 3,000 points")
    func randomSeries() throws {
        var random = SeededGenerator(seed: 2026)
        for round in 0..<200 {
            let count = Int.random(in: 1...3_000, using: &random)
            var step = Int64.random(in: -1_000...1_000, using: &random)
            var time = Int64.random(in: 0...1_800_000_000_000, using: &random)
            var value = Double.random(in: -1e6...1e6, using: &random)
            var points: [MetricPoint] = []
            for _ in 0..<count {
                switch Int.random(in: 0..<10, using: &random) {
                case 0: step = Int64.random(in: .min ... .max, using: &random)
                case 1: time &+= Int64.random(in: -5_000...5_000, using: &random)
                case 2: value = Double(bitPattern: random.next())
                case 3, 4: break
                default:
                    step &+= 1
                    time &+= 1_000
                    value += Double.random(in: -1...1, using: &random)
                }
                points.append(MetricPoint(value: value, timestamp: time, step: step))
            }
            let bytes = try Self.roundTrip(points)
            #expect(bytes.first == MetricChunk.version, "round \(round)")
        }
    }

    @Test("a regular series costs a few bits a point: constant value ≤ 3 bits, and a repeating sensor value stays small")
    func compact() throws {
        let constant = (0..<10_000).map { MetricPoint(value: 21.5, timestamp: 1_700_000_000_000 + Int64($0) * 1_000, step: Int64($0)) }
        let bytes = try Self.roundTrip(constant)
        // The header (4 bytes), the first point (24), the second's first deltas (under 4), then 1 bit each for step,
        // timestamp and value.
        #expect(bytes.count <= 4 + 24 + 4 + (9_998 * 3 + 7) / 8, "\(bytes.count) bytes")
        // A sensor read once a second at 0.1 resolution that changes every 10th reading.
        let sensor = (0..<10_000).map {
            MetricPoint(value: 20 + Double(($0 / 10) % 50) / 10, timestamp: 1_700_000_000_000 + Int64($0) * 1_000, step: Int64($0))
        }
        let sensorBytes = try Self.roundTrip(sensor)
        #expect(Double(sensorBytes.count) / 10_000 <= 2, "\(sensorBytes.count) bytes")
    }

    @Test("every truncation, a trailing byte, another version and an impossible count are refused, never trapped")
    func damaged() throws {
        var random = SeededGenerator(seed: 7)
        let points = (0..<300).map { MetricPoint(value: Double.random(in: 0...1, using: &random), timestamp: Int64($0) * 7, step: Int64($0 / 3)) }
        let bytes = MetricChunk.encode(points)
        for length in 0..<bytes.count {
            // The last byte always holds a bit of the last point, so every shorter prefix lacks bits.
            let prefix = Array(bytes.prefix(length))
            let error = #expect(throws: LedgerError.self) { try MetricChunk.decode(prefix) }
            #expect(error?.code == .invalidArchive)
        }
        #expect(throws: LedgerError.self) { try MetricChunk.decode(bytes + [0]) }
        #expect(throws: LedgerError.self) { try MetricChunk.decode([2] + bytes.dropFirst()) }
        // A count of 2⁶³ points in a few bytes: refused before any memory is reserved for them.
        let huge: [UInt8] = [MetricChunk.version, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01] + Array(repeating: 0, count: 30)
        let error = #expect(throws: LedgerError.self) { try MetricChunk.decode(huge) }
        #expect(error?.message.contains("claims") == true)
        // Random bytes behind a valid header decode or are refused; none traps.
        for _ in 0..<2_000 {
            let noise = (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = try? MetricChunk.decode([MetricChunk.version, UInt8.random(in: 0...20, using: &random)] + noise)
        }
    }

    @Test("a summary counts points, ranges, min, max and sum without NaN, and NaNs apart")
    func summary() {
        let points = [
            MetricPoint(value: 3, timestamp: 50, step: 2), MetricPoint(value: .nan, timestamp: 10, step: 9),
            MetricPoint(value: -1.5, timestamp: 70, step: -4), MetricPoint(value: .infinity, timestamp: 20, step: 3),
        ]
        let summary = ChunkSummary(points)
        #expect(summary.count == 4 && summary.nanCount == 1)
        #expect(summary.firstStep == 2 && summary.lastStep == 3 && summary.firstTimestamp == 50 && summary.lastTimestamp == 20)
        #expect(summary.minStep == -4 && summary.maxStep == 9 && summary.minTimestamp == 10 && summary.maxTimestamp == 70)
        #expect(summary.min == -1.5 && summary.max == .infinity && summary.sum == .infinity && summary.lastValue == .infinity)
        let finite = ChunkSummary(points.filter { $0.value.isFinite })
        #expect(finite.sum == 1.5 && finite.max == 3)
        let allNaN = ChunkSummary([MetricPoint(value: .nan, timestamp: 1, step: 1)])
        #expect(allNaN.min == nil && allNaN.max == nil && allNaN.nanCount == 1 && allNaN.sum == 0)
    }
}
