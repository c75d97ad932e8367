import Foundation
import LedgerCore
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    @Test("values parse to the expected cases, members keep their order, integers stay integers")
    func values() throws {
        let value = try JSONValue(
            parsing:
                #" { "b" : [1, -2, 3.5, 1e3, -0.25E-2, 9223372036854775807, 9223372036854775808], "a": {"x": null, "y": true, "z": false}, "s": "x\"\\\/\b\f\n\r\tA\u00e9\ud83d\ude00" } "#
                .utf8)
        guard case .object(let members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.0) == ["b", "a", "s"])
        #expect(
            value["b"]
                == .array([.integer(1), .integer(-2), .number(3.5), .number(1000), .number(-0.0025), .integer(.max), .number(9223372036854775808)]))
        #expect(value["a"] == .object([("x", .null), ("y", .bool(true)), ("z", .bool(false))]))
        #expect(value["s"] == .string("x\"\\/\u{8}\u{c}\n\r\tAé😀"))
    }

    @Test("integers at and past Int64's limits, and zeros, are read exactly; past the limits they become doubles")
    func integerLimits() throws {
        let value = try JSONValue(parsing: "[-9223372036854775808, -9223372036854775809, 18446744073709551616, 0, -0, 10, -7]".utf8)
        #expect(value == .array([.integer(.min), .number(-0x1p63), .number(0x1p64), .integer(0), .integer(0), .integer(10), .integer(-7)]))
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: "[00]".utf8) }
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: "[-]".utf8) }
    }

    @Test("whatever JSONValue writes, it reads back as the same value")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .integer(Int64.random(in: .min ... .max, using: &generator))
            case 3:
                return .number(
                    Double(bitPattern: UInt64.random(in: 0 ... .max, using: &generator)).isFinite
                        ? Double.random(in: -1e300...1e300, using: &generator) : 0.5)
            case 4:
                return .string(
                    String(
                        (0..<Int.random(in: 0..<12, using: &generator)).map { _ in
                            Character(Unicode.Scalar(UInt32.random(in: 1...0x2FF, using: &generator))!)
                        }))
            case 5: return .array((0..<Int.random(in: 0..<5, using: &generator)).map { _ in random(depth + 1) })
            default: return .object((0..<Int.random(in: 0..<5, using: &generator)).map { ("k\($0)", random(depth + 1)) })
            }
        }
        for _ in 0..<500 {
            let value = random(0)
            #expect(try JSONValue(parsing: value.description.utf8) == value, "\(value)")
        }
    }

    @Test("a history written straight to text is byte for byte the tree's text, non-finite values, Int64 limits and odd keys included")
    func metricPointsText() throws {
        let values: [Double] = [
            0, -0.0, 1, 2.5, -3e-12, 1e15, 1e300, .nan, .infinity, -.infinity, 123456789.125, -2.2250738585072014e-308, 0.30000000000000004,
            -.greatestFiniteMagnitude, -999_999_999_999_999, -.leastNonzeroMagnitude, -1e15 + 0.5,
        ]
        var points = values.enumerated().map { MetricPoint(value: $1, timestamp: Int64($0) * 1_000 - 5, step: Int64($0) - 3) }[...]
        points += [MetricPoint(value: 1, timestamp: .min, step: .max), MetricPoint(value: 2, timestamp: .max, step: .min)]
        for key in ["soc", "a \"quoted\" key/é😀\n", "control \u{01}\u{1F} and e\u{301}", ""] {
            let tree = JSONValue.array(
                points.map { point in
                    .object([
                        ("key", .string(key)), ("value", .number(point.value)), ("timestamp", .integer(point.timestamp)),
                        ("step", .integer(point.step)),
                    ])
                })
            #expect(JSONValue.metricPoints(key: key, points).utf8 == tree.utf8)
            #expect(JSONValue.object([("metrics", .metricPoints(key: key, points))]).description == JSONValue.object([("metrics", tree)]).description)
        }
        #expect(JSONValue.metricPoints(key: "k", [][...]).description == "[]")
    }

    @Test("written in pieces (large fragments handed over whole), the text is the one written into one buffer")
    func writtenInPieces() {
        let long = JSONValue.metricPoints(
            key: "soc", (0..<500).map { MetricPoint(value: Double($0) / 3, timestamp: Int64($0), step: Int64($0)) }[...])
        let short = JSONValue.metricPoints(key: "soc", [MetricPoint(value: .nan, timestamp: 1, step: 2)][...])
        for value in [
            JSONValue.object([("metrics", long), ("next_page_token", .string("t\"1"))]), .array([short, long, .null, long, .object([])]), long, .null,
        ] {
            var pieces: [UInt8] = []
            var count = 0
            value.write { bytes in
                pieces.append(contentsOf: bytes)
                count += 1
            }
            #expect(pieces == value.utf8)
            #expect(value.sizeEstimate >= value.utf8.count - 64)
            if case .array = value { #expect(count > 3) }
        }
    }

    @Test("it accepts RFC 8259 JSON and nothing else (Foundation's parser, by contrast, takes trailing commas)")
    func strictness() throws {
        let valid = ["{}", "[]", "0", "-0", "1.5e-3", "\"\"", "[[[]]]", " \n\t[ 1 , 2 ] \r", "{\"a\":[{\"b\":null}]}", "[1e+5, 2E-5]", "\"\\u00e9\""]
        let invalid = [
            "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "[1 2]", "{\"a\" 1}", "{a:1}", "'x'", "\"\\x\"", "\"\\u12\"", "\"\u{01}\"",
            "tru",
            "nul", "[", "{", "\"abc", "[1]x", "\"\\ud83d\"", "NaN", "Infinity", "[-]", "", " ",
        ]
        for text in valid {
            #expect((try? JSONValue(parsing: text.utf8)) != nil, "refused valid \(text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil, "Foundation refused \(text)")
        }
        for text in invalid { #expect((try? JSONValue(parsing: text.utf8)) == nil, "accepted invalid \(text)") }
    }

    @Test("hostile input is refused with the offset, never a crash: deep nesting, invalid UTF-8, truncation")
    func hostile() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep.utf8) }
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [UInt8(ascii: "\""), 0xFF, 0xFE, UInt8(ascii: "\"")]) }
        let nested = String(repeating: "[", count: JSONValue.maximumDepth - 1) + String(repeating: "]", count: JSONValue.maximumDepth - 1)
        #expect((try? JSONValue(parsing: nested.utf8)) != nil, "nesting up to the limit is fine")
        do {
            _ = try JSONValue(parsing: #"{"run_id": "abc", "value": tru}"#.utf8)
            Issue.record("accepted 'tru'")
        } catch {
            #expect(error.offset == 27 && error.description.contains("'true'"))
        }
    }
}
