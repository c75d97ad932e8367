import LedgerCore
import Testing

@Suite("Filter parser")
struct FilterParserTests {
    @Test("parses MLflow's filter strings into the expected tree")
    func parsesMLflowFilters() throws {
        #expect(
            try Filter.parse("metrics.total_cost < 100 and params.solver_type = 'hybrid'")
                == .and(
                    .comparison(Comparison(.metric("total_cost"), .less, .number(100))),
                    .comparison(Comparison(.param("solver_type"), .equal, .string("hybrid"))))
        )
        #expect(try Filter.parse("tags.\"my tag\" LIKE 'x%'") == .comparison(Comparison(.tag("my tag"), .like, .string("x%"))))
        #expect(try Filter.parse("tags.`my tag` ILIKE 'X%'") == .comparison(Comparison(.tag("my tag"), .ilike, .string("X%"))))
        #expect(try Filter.parse("attributes.status = 'FINISHED'") == .comparison(Comparison(.attribute(.status), .equal, .string("FINISHED"))))
        #expect(
            try Filter.parse("attributes.start_time > 1700000000000")
                == .comparison(Comparison(.attribute(.startTime), .greater, .number(1_700_000_000_000))))
        #expect(try Filter.parse("attribute.run_name = \"a\"") == .comparison(Comparison(.attribute(.runName), .equal, .string("a"))))
        #expect(try Filter.parse("params.solver IN ('a', 'b')") == .comparison(Comparison(.param("solver"), .in, .strings(["a", "b"]))))
        #expect(try Filter.parse("params.solver NOT IN ('a')") == .comparison(Comparison(.param("solver"), .notIn, .strings(["a"]))))
        #expect(try Filter.parse("metric.x IS NULL") == .comparison(Comparison(.metric("x"), .isNull, .none)))
        #expect(try Filter.parse("metrics.a.b >= -1.5e3") == .comparison(Comparison(.metric("a.b"), .greaterOrEqual, .number(-1500))))
        #expect(try Filter.parse("   ") == .all)
    }

    @Test("or binds looser than and, not binds tightest, parentheses override")
    func precedence() throws {
        let a = Filter.comparison(Comparison(.metric("a"), .equal, .number(1)))
        let b = Filter.comparison(Comparison(.metric("b"), .equal, .number(2)))
        let c = Filter.comparison(Comparison(.metric("c"), .equal, .number(3)))
        #expect(try Filter.parse("metrics.a = 1 or metrics.b = 2 and metrics.c = 3") == .or(a, .and(b, c)))
        #expect(try Filter.parse("(metrics.a = 1 or metrics.b = 2) and metrics.c = 3") == .and(.or(a, b), c))
        #expect(try Filter.parse("not metrics.a = 1 and metrics.b = 2") == .and(.not(a), b))
        #expect(try Filter.parse("NOT (metrics.a = 1 OR metrics.b = 2)") == .not(.or(a, b)))
    }

    @Test(
        "printing a filter and parsing it back gives the same filter",
        arguments: [
            "metrics.total_cost < 100 and params.solver_type = 'hybrid'",
            "tags.`my tag` LIKE 'it''s%' or not (attributes.end_time IS NULL)",
            "params.`weird``key` IN ('a', 'b') and metrics.`x y` != 0.25",
            "attributes.run_id NOT IN ('0123456789abcdef0123456789abcdef')",
            // Found by the filter fuzz target: a key that starts with a combining mark (U+06D7, U+0345) merges with the
            // dot into one Character, so splitting `tags.KEY` by Characters lost the prefix.
            "not (tags.\"\u{06D7}1S5g\"  IN('FINISHED'))", "params.\u{0345}combining = 'x'",
        ])
    func roundTrips(text: String) throws {
        let filter = try Filter.parse(text)
        #expect(try Filter.parse(filter.description) == filter)
    }

    @Test(
        "a malformed filter names the column and what was expected",
        arguments: [
            ("metrics.total_cost <", 21, "expected a number"),
            ("metrics.total_cost < 'abc'", 22, "expected a number"),
            ("params.solver_type = hybrid", 22, "expected a quoted string"),
            ("params.solver_type > 'a'", 20, "Valid comparators are =, !=, LIKE"),
            ("metrics.x LIKE 'a'", 11, "Valid comparators are =, !="),
            ("foo.x = 1", 1, "Invalid entity type 'foo'"),
            ("attributes.colour = 'red'", 1, "Valid attributes are run_id"),
            ("total_cost < 5", 1, "expected metrics.KEY"),
            ("metrics.a = 1 and", 18, "expected a key"),
            ("metrics.a = 1 metrics.b = 2", 15, "expected 'and', 'or' or the end"),
            ("(metrics.a = 1", 15, "expected ')'"),
            ("params.a = 'unterminated", 12, "Unterminated quoted text"),
            ("params.a IN 'x'", 13, "expected '('"),
            ("params.a IN ('x' 'y')", 18, "expected ',' or ')'"),
            ("metrics.a = 1 # 2", 15, "Unexpected character '#'"),
            ("metrics. = 1", 1, "Missing key after 'metrics.'"),
            ("params.a NOT LIKE 'x'", 14, "expected IN after NOT"),
            ("metrics.a IS 5", 14, "expected NULL after IS"),
        ])
    func malformedFilters(text: String, column: Int, fragment: String) {
        #expect {
            _ = try Filter.parse(text)
        } throws: { error in
            guard let error = error as? LedgerError else { return false }
            return error.code == .malformedQuery && error.column == column && error.message.contains(fragment)
                && error.message.contains("column \(column)")
        }
    }

    @Test("order keys parse with a direction, aliases and bare attribute names")
    func orderKeys() throws {
        #expect(try OrderKey.parse("metrics.total_cost ASC") == OrderKey(.metric("total_cost"), ascending: true))
        #expect(try OrderKey.parse("params.x desc") == OrderKey(.param("x"), ascending: false))
        #expect(try OrderKey.parse("start_time") == OrderKey(.attribute(.startTime)))
        #expect(try OrderKey.parse("attributes.run_name DESC") == OrderKey(.attribute(.runName), ascending: false))
        #expect(throws: LedgerError.self) { try OrderKey.parse("metrics.x sideways") }
        #expect(throws: LedgerError.self) { try OrderKey.parse("") }
    }
}
