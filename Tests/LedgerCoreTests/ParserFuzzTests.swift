import LedgerCore
import Testing

/// Whatever a user types into a filter box must come back as a filter or a malformed-query error, never a crash.
@Suite("Parser fuzzing")
struct ParserFuzzTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 31)
        }
    }

    static let fragments = [
        "metrics.", "params.", "tags.", "attributes.", "attr.", "x", "total_cost", "`", "\"", "'", "''", "(", ")", ",", "=", "==", "!=",
        "<>", "<", "<=", ">", ">=", "!", " and ", " or ", "not ", " LIKE ", " ILIKE ", " IN ", " NOT IN ", " IS ", " NULL", "1", "-2.5e3",
        ".", "e", "+", "-", "%", "_", "é", "💥", "\u{0}", "\n", " ", "status", "start_time", "ASC", "DESC", "1e999", "0x1F",
    ]

    @Test("random token soups and raw bytes never crash the parsers, and what parses prints back to itself")
    func fuzz() {
        var generator = Generator(state: 20261124)
        var parsed = 0
        for round in 0..<20_000 {
            var text = ""
            if round % 5 == 0 {
                let scalars = (0..<Int(generator.next() % 40)).compactMap { _ in Unicode.Scalar(UInt32(generator.next() % 0x3000)) }
                text = String(String.UnicodeScalarView(scalars))
            } else {
                for _ in 0..<Int(1 + generator.next() % 12) { text += Self.fragments[Int(generator.next() % UInt64(Self.fragments.count))] }
            }
            do {
                let filter = try Filter.parse(text)
                parsed += 1
                #expect((try? Filter.parse(filter.description)) == filter, "\(text) printed as \(filter)")
            } catch {
                #expect(error.code == .malformedQuery, "\(text): \(error)")
                #expect(
                    error.column.map { $0 >= 1 && $0 <= text.unicodeScalars.count + 1 } ?? false,
                    "\(text): column \(String(describing: error.column))")
            }
            _ = try? OrderKey.parse(text)
        }
        #expect(parsed > 100, "the fuzzer also produces valid filters")
    }
}
