import LedgerCore
import Testing

@Suite("State conditions")
struct StatePredicateTests {
    static func document() throws -> JSONValue {
        try JSONValue(
            parsing: #"""
                {"phase": "implementation", "progress": {"done": 3, "total": 7.5, "ratio": 0.4}, "plan": {"steps": ["a", "b"]},
                 "owner name": "ana", "flags": {"ok": true, "none": null}, "é": "accent", "big": 9007199254740993, "neg": -2}
                """#.utf8)
    }

    @Test(
        "conditions select what they say",
        arguments: [
            (#"$.phase == "implementation""#, true), (#"$.phase != "implementation""#, false), (#"$.phase == 'implementation'"#, true),
            ("$.progress.done > 2", true), ("$.progress.done >= 3", true), ("$.progress.done < 3", false), ("$.progress.done <= 3.0", true),
            ("$.progress.total > 7", true), ("$.progress.ratio == 0.4", true), ("$.neg < -1", true), ("$.big > 9007199254740992", true),
            ("exists($.plan.steps[1])", true), ("exists($.plan.steps[2])", false), (#"$.plan.steps[0] == "a""#, true),
            (#"$["owner name"] == "ana""#, true), (#"$['owner name'] == 'ana'"#, true), ("$.flags.ok == true", true), ("$.flags.none == null", true),
            ("exists($.flags.none)", true), ("exists($.missing)", false), (#"$.missing != "x""#, false), (#"$.progress.done == "3""#, false),
            (#"$.phase > "a""#, true), (#"$.é == "accent""#, true), (#"!($.phase == "design")"#, true),
            (#"$.phase == "design" || $.progress.done == 3"#, true), (#"$.phase == "implementation" && $.progress.done == 4"#, false),
            (#"($.phase == "design" || $.flags.ok == true) && !exists($.nothing)"#, true), ("$.progress == null", false),
            (#"$.phase == "impl\u0065mentation""#, true), ("$.plan.steps.0 == 1", false), ("$ == null", false),
        ])
    func selects(condition: String, expected: Bool) throws {
        #expect(try StatePredicate(parsing: condition).matches(try Self.document()) == expected, "\(condition)")
    }

    @Test(
        "malformed, too deep and too long conditions are refused with where and what was expected",
        arguments: [
            ("", "a path starting with $"), ("$.phase", "==, !=, <"), ("$.phase ==", "a string, a number"), (#"$.phase == "open"#, "closing quote"),
            ("phase == 1", "a path starting with $"), ("$.a == 1 &&", "a path"), ("exists $.a", "'(' after exists"), ("($.a == 1", "')'"),
            ("$.a == 1 extra", "the end of the condition"), ("$[99999999999] == 1", "an index"), ("$. == 1", "a member name"),
            ("$.a == 1e999x", "the end"), ("$.a == tru", "a string, a number"),
        ])
    func refused(condition: String, fragment: String) {
        do {
            _ = try StatePredicate(parsing: condition)
            Issue.record("accepted \(condition)")
        } catch {
            #expect(error.code == .invalidParameterValue && error.message.contains(fragment), "\(condition): \(error.message)")
        }
    }

    @Test("nesting and length are bounded; random bytes never trap")
    func bounds() throws {
        let document = try Self.document()
        let deep = String(repeating: "(", count: 40) + "$.a == 1" + String(repeating: ")", count: 40)
        #expect(throws: LedgerError.self) { try StatePredicate(parsing: deep) }
        let negations = String(repeating: "!", count: 40) + "$.a == 1"
        #expect(throws: LedgerError.self) { try StatePredicate(parsing: negations) }
        #expect(throws: LedgerError.self) { try StatePredicate(parsing: "$.a == 1 || " + String(repeating: "$.a == 1 || ", count: 400) + "$.a == 1") }
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("$.[]()'\"!=<>&| exists0123456789abe-\\".utf8)
        for _ in 0..<5000 {
            let bytes = (0..<Int.random(in: 0..<40, using: &generator)).map { _ in alphabet.randomElement(using: &generator) ?? 0 }
            if let condition = try? StatePredicate(parsing: String(decoding: bytes, as: UTF8.self)) { _ = condition.matches(document) }
        }
    }
}
