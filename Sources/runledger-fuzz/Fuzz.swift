// libFuzzer targets for the parsers that read untrusted bytes: the filter language, the JSON parser, the binary batch
// decoder, the spool segment reader, the backup archive reader, the CSV importer and the metric chunk decoder. Built plainly it replays files (a corpus, a crash) through the target named
// by RUNLEDGER_FUZZ_TARGET; built with `-sanitize=fuzzer -DFUZZING` (scripts/fuzz) libFuzzer drives it.
// Every target must return without trapping whatever the bytes; the properties checked here trap on purpose, because
// a fuzzer reports a trap.
import Foundation
import LedgerCore
import LedgerExport
import RunLedger

enum FuzzTarget: String, CaseIterable {
    case filter, json, batch, spool, archive, csv, chunk

    static var selected: FuzzTarget {
        let name = ProcessInfo.processInfo.environment["RUNLEDGER_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("Set RUNLEDGER_FUZZ_TARGET to one of: \(allCases.map(\.rawValue).joined(separator: ", ")).\n".utf8))
            exit(2)
        }
        return target
    }

    func run(_ bytes: [UInt8]) {
        switch self {
        case .filter:
            let text = String(decoding: bytes, as: UTF8.self)
            guard let filter = try? Filter.parse(text) else { return }
            // What parses compiles for both dialects and prints back to a filter that parses to itself.
            _ = filter.sql(dialect: .sqlite)
            _ = filter.sql(dialect: .postgres)
            guard let again = try? Filter.parse(filter.description), again == filter else {
                // Only this fuzz executable traps, on purpose: libFuzzer reports a trap as a finding. No server or CLI
                // path runs this file.
                fatalError("'\(text)' printed as '\(filter.description)', which does not parse back to the same filter")
            }
        case .json:
            guard let value = try? JSONValue(parsing: bytes) else { return }
            // What parses prints to JSON that parses again (a deliberate trap for libFuzzer, as above).
            guard (try? JSONValue(parsing: value.utf8)) != nil else { fatalError("\(value) printed as JSON that does not parse") }
        case .batch:
            guard let batch = try? WriteBatch(decoding: bytes) else { return }
            // A batch that decodes encodes and decodes to the same batch (NaN compared by bits through the encoding);
            // a deliberate trap for libFuzzer, as above.
            guard (try? WriteBatch(decoding: batch.encoded()))?.encoded() == batch.encoded() else { fatalError("batch does not round-trip") }
        case .spool:
            let segment = Spool.Segment(url: URL(fileURLWithPath: "/fuzz.rlspool"), contents: bytes)
            for index in 0..<segment.count { _ = segment.batch(at: index) }
        case .archive:
            // Fed in two pieces, as a file is read in chunks; every event is read until the bytes run out or are refused.
            var decoder = ArchiveDecoder()
            for piece in [bytes.prefix(bytes.count / 2), bytes.dropFirst(bytes.count / 2)] {
                decoder.feed(piece)
                while let event = try? decoder.next() {
                    if case .end = event { break }
                }
            }
            _ = try? decoder.checkComplete()
        case .csv:
            guard let table = try? RunImport(csv: String(decoding: bytes, as: UTF8.self)) else { return }
            _ = table.batch(experimentName: "fuzz", now: 0)
        case .chunk:
            guard let points = try? MetricChunk.decode(bytes) else { return }
            // What decodes encodes to a chunk that decodes to the same bits (a deliberate trap for libFuzzer, as above).
            let bits = { (points: [MetricPoint]) in points.map { [$0.step, $0.timestamp, Int64(bitPattern: $0.value.bitPattern)] } }
            guard let again = try? MetricChunk.decode(MetricChunk.encode(points)), bits(again) == bits(points) else {
                fatalError("a chunk of \(points.count) points does not round-trip")
            }
            // Whatever a stored chunk holds, aggregating it never traps: extreme steps and timestamps, any width.
            let width = Int64(bytes.first ?? 1) &* 997 &+ 1
            for bucketing in [AggregateBucketing.steps(width), .steps(.max), .time(1000 + width)] {
                let query = RunQuery(experimentIDs: [ExperimentID(0)])
                var accumulator = AggregateAccumulator(MetricAggregation(runs: query, metrics: ["m"], bucketing: bucketing, since: -5, until: .max))
                let group = accumulator.group(nil)
                try? accumulator.add(chunk: bytes, metric: 0, group: group)
                _ = accumulator.rows()
            }
        }
    }
}

/// libFuzzer's callback: one input through the selected target.
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.selected.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

#if FUZZING
    /// libFuzzer's entry for programs that have a main of their own (SwiftPM gives every executable one).
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The name is libFuzzer's C symbol.
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt
#endif

/// Fuzzing (built with -DFUZZING): hands the command line to libFuzzer. Otherwise replays files through the selected
/// target: `RUNLEDGER_FUZZ_TARGET=json runledger-fuzz crash-file …`.
@main
enum FuzzMain {
    static func main() {
        #if FUZZING
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOneInput($0, $1) })
        #else
            let target = FuzzTarget.selected
            for path in CommandLine.arguments.dropFirst() {
                guard let data = FileManager.default.contents(atPath: path) else {
                    FileHandle.standardError.write(Data("Cannot read \(path).\n".utf8))
                    exit(1)
                }
                target.run([UInt8](data))
            }
            print("\(CommandLine.arguments.count - 1) input(s) through \(target.rawValue): no trap.")
        #endif
    }
}
