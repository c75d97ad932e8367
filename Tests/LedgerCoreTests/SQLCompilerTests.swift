import Foundation
import Testing

@testable import LedgerCore

@Suite("SQL compiler")
struct SQLCompilerTests {
    @Test("filters compile to parameterised SQL; user text only appears in bindings")
    func goldenFilterSQL() throws {
        let filter = try Filter.parse("metrics.total_cost < 100 and params.solver_type = 'hybrid'")
        let sqlite = filter.sql(dialect: .sqlite)
        #expect(
            sqlite.sql
                == "(EXISTS (SELECT 1 FROM latest_metrics f WHERE f.run_id = r.id AND f.key = ? AND (f.is_nan = 0 AND f.value < ?)) AND "
                + "EXISTS (SELECT 1 FROM params f WHERE f.run_id = r.id AND f.key = ? AND f.value = ?))"
        )
        #expect(sqlite.bindings == [.text("total_cost"), .real(100), .text("solver_type"), .text("hybrid")])
        let postgres = filter.sql(dialect: .postgres)
        #expect(postgres.sql.contains("f.key = $1 AND (f.is_nan = 0 AND f.value < $2)"))
        #expect(postgres.sql.contains("f.key = $3 AND f.value = $4"))
    }

    @Test("hostile text never reaches the SQL text")
    func hostileText() throws {
        let evil = "x'); DROP TABLE runs; --"
        let filter = try Filter.parse(
            "params.`\(evil)` = '\(evil.replacingOccurrences(of: "'", with: "''"))' or tags.a LIKE '\(evil.replacingOccurrences(of: "'", with: "''"))'"
        )
        for dialect in [SQLDialect.sqlite, .postgres] {
            let statement = filter.sql(dialect: dialect)
            #expect(!statement.sql.contains("DROP"))
            #expect(statement.bindings.contains(.text(evil)))
        }
    }

    @Test("LIKE patterns become GLOB patterns with GLOB's own wildcards quoted")
    func globTranslation() {
        #expect(Comparison.globPattern(fromLike: "a%b_c*d?e[f") == "a*b?c[*]d[?]e[[]f")
    }

    @Test("a search ordered by a metric reads the value index in order, inside its experiments, breaks ties as MLflow, and pages by keyset")
    func goldenSearchPlan() throws {
        let query = RunQuery(
            experimentIDs: [ExperimentID(1)], filter: try Filter.parse("params.solver_type = 'hybrid'"),
            orderBy: [OrderKey(.metric("total_cost"))], maxResults: 5
        )
        let plan = try SearchPlan(query, dialect: .sqlite)
        #expect(plan.phases == [0, 1, 2])
        let first = plan.statement(phase: 0, limit: 6)
        #expect(
            first.sql
                == "SELECT r.id, r.run_uuid FROM latest_metrics o0 CROSS JOIN runs r WHERE r.id = o0.run_id AND o0.key = ? AND o0.is_nan = 0 "
                + "AND o0.experiment_id IN (?) AND r.experiment_id IN (?) AND r.lifecycle_stage IN (?) AND EXISTS (SELECT 1 FROM params f WHERE f.run_id = r.id AND f.key = ? "
                + "AND f.value = ?) ORDER BY o0.value ASC, r.start_time DESC, r.run_uuid ASC LIMIT ?"
        )
        #expect(
            first.bindings == [.text("total_cost"), .integer(1), .integer(1), .text("active"), .text("solver_type"), .text("hybrid"), .integer(6)])
        #expect(plan.statement(phase: 2, limit: 6).sql.contains("NOT EXISTS (SELECT 1 FROM latest_metrics o0 WHERE o0.run_id = r.id AND o0.key = ?)"))

        let last = Run(
            info: RunInfo(
                runID: RunID("0123456789abcdef0123456789abcdef")!, experimentID: ExperimentID(1), name: "", status: .finished, startTime: 0,
                endTime: 1, lifecycleStage: .active, userID: "", artifactURI: ""
            ),
            latestMetrics: ["total_cost": MetricPoint(value: 42.5, timestamp: 0, step: 0)]
        )
        var next = query
        next.pageToken = plan.nextPageToken(after: last)
        let nextPlan = try SearchPlan(next, dialect: .sqlite)
        let statement = nextPlan.statement(phase: 0, limit: 6)
        let keyset = "AND (o0.value > ? OR (o0.value = ? AND (r.start_time < ? OR (r.start_time = ? AND r.run_uuid > ?)))) ORDER BY"
        #expect(statement.sql.contains(keyset))
        #expect(statement.bindings.contains(.real(42.5)) && statement.bindings.contains(.text("0123456789abcdef0123456789abcdef")))
    }

    @Test("a page token decodes to the position it was made from, and tokens written by JSONEncoder still decode")
    func pageTokenRoundTrip() throws {
        let order = [OrderKey(.metric("a")), OrderKey(.param("p"), ascending: false), OrderKey(.attribute(.startTime)), OrderKey(.tag("t"))]
        let reals: [Double] = [
            42.5, 0, 1, -3, 0.1, 1e300, -1e-300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e15, 123_456_789_012_345.6, .infinity, -.infinity,
        ]
        let texts = ["", "hybrid", "quote \" and \\ backslash", "tab\tnew\nline\u{01}", "é 東京 🌞", "{\"_0\": 1}"]
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        for (index, real) in reals.enumerated() {
            let position = SortPosition(
                slots: [
                    SortSlot(rank: 0, value: .real(real)), SortSlot(rank: 0, value: .text(texts[index % texts.count])),
                    SortSlot(rank: 0, value: .integer(index == 0 ? .min : Int64(index) * 1_000_000_007)),
                    SortSlot(rank: index % 2 == 0 ? 2 : 1, value: nil),
                ],
                runID: "0123456789abcdef0123456789abcdef"
            )
            let cursor = PageCursor(order: order, position: position)
            #expect(try PageCursor(token: cursor.token, order: order) == cursor, "\(real)")
            // A token handed out before the JSON was written by hand.
            let legacy = try encoder.encode(cursor).base64EncodedString().replacingOccurrences(of: "=", with: "")
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            #expect(try PageCursor(token: legacy, order: order) == cursor, "\(real)")
        }
    }

    @Test("a page token is refused for another ordering or when tampered with")
    func pageTokens() throws {
        let query = RunQuery(experimentIDs: [ExperimentID(1)], orderBy: [OrderKey(.metric("a"))])
        let run = Run(
            info: RunInfo(
                runID: RunID("0123456789abcdef0123456789abcdef")!, experimentID: ExperimentID(1), name: "", status: .finished, startTime: 0,
                endTime: 1, lifecycleStage: .active, userID: "", artifactURI: ""
            )
        )
        let token = try SearchPlan(query, dialect: .sqlite).nextPageToken(after: run)
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, "URL-safe without escaping: \(token)")
        var other = RunQuery(experimentIDs: [ExperimentID(1)], orderBy: [OrderKey(.metric("b"))])
        other.pageToken = token
        #expect(throws: LedgerError.self) { try SearchPlan(other, dialect: .sqlite) }
        var garbage = query
        garbage.pageToken = "not-a-token"
        #expect(throws: LedgerError.self) { try SearchPlan(garbage, dialect: .sqlite) }
    }
}
