import LedgerCore
import Testing

@Suite("Reference evaluator")
struct EvaluatorTests {
    let run = Run(
        info: RunInfo(
            runID: RunID("0123456789abcdef0123456789abcdef")!, experimentID: ExperimentID(1), name: "Design-7", status: .finished, startTime: 1000,
            endTime: nil, lifecycleStage: .active, userID: "ana", artifactURI: ""
        ),
        params: ["solver": "Hybrid_2", "pct": "50%"],
        tags: ["site": "north"],
        latestMetrics: ["cost": MetricPoint(value: 12.5, timestamp: 1, step: 0), "bad": MetricPoint(value: .nan, timestamp: 1, step: 0)]
    )

    func matches(_ text: String) throws -> Bool { try Filter.parse(text).matches(run) }

    @Test("a comparison on a missing key is false, and not negates it")
    func missingKeys() throws {
        #expect(try matches("metrics.missing > 0") == false)
        #expect(try matches("metrics.missing <= 0") == false)
        #expect(try matches("params.missing != 'x'") == false)
        #expect(try matches("not (metrics.missing > 0)") == true)
        #expect(try matches("metrics.missing IS NULL") == true)
        #expect(try matches("attributes.end_time > 0") == false)
        #expect(try matches("attributes.end_time IS NULL") == true)
    }

    @Test("NaN is unequal to everything and neither less nor greater")
    func nan() throws {
        #expect(try matches("metrics.bad != 1") == true)
        #expect(try matches("metrics.bad = 0") == false)
        #expect(try matches("metrics.bad < 1e300") == false)
        #expect(try matches("metrics.bad > -1e300") == false)
        #expect(try matches("metrics.bad IS NOT NULL") == true)
    }

    @Test("LIKE is case-sensitive, ILIKE folds ASCII case, _ is one character")
    func like() throws {
        #expect(try matches("params.solver LIKE 'Hyb%'") == true)
        #expect(try matches("params.solver LIKE 'hyb%'") == false)
        #expect(try matches("params.solver ILIKE 'hyb%'") == true)
        #expect(try matches("params.solver LIKE 'Hybrid__'") == true)
        #expect(try matches("params.solver LIKE 'Hybrid_'") == false)
        #expect(try matches("params.pct LIKE '50%'") == true)
        #expect(try matches("params.solver LIKE '%b%d%'") == true)
        #expect(try matches("attributes.run_name ILIKE 'design-_'") == true)
    }

    @Test("IN and NOT IN need the key to be present")
    func inLists() throws {
        #expect(try matches("tags.site IN ('south', 'north')") == true)
        #expect(try matches("tags.site NOT IN ('south')") == true)
        #expect(try matches("tags.nope NOT IN ('south')") == false)
    }

    @Test("ordering puts values first, then NaN, then missing, in both directions, ties by run id")
    func ordering() {
        func run(_ id: Character, _ value: Double?) -> Run {
            Run(
                info: RunInfo(
                    runID: RunID(String(repeating: id, count: 32))!, experimentID: ExperimentID(1), name: "", status: .running, startTime: 0,
                    endTime: nil, lifecycleStage: .active, userID: "", artifactURI: ""
                ),
                latestMetrics: value.map { ["m": MetricPoint(value: $0, timestamp: 0, step: 0)] } ?? [:]
            )
        }
        let runs = [run("a", nil), run("b", .nan), run("c", 2), run("d", 1), run("e", 2), run("f", -.infinity)]
        let ascending = runs.sorted(by: [OrderKey(.metric("m"), ascending: true)]).map { $0.info.runID.rawValue.first! }
        let descending = runs.sorted(by: [OrderKey(.metric("m"), ascending: false)]).map { $0.info.runID.rawValue.first! }
        #expect(ascending == ["f", "d", "c", "e", "b", "a"])
        #expect(descending == ["c", "e", "d", "f", "b", "a"])
    }

    @Test("the latest metric is the highest (step, timestamp, value), NaN ranking below numbers")
    func latestRule() {
        let base = MetricPoint(value: 5, timestamp: 10, step: 2)
        #expect(MetricPoint(value: 0, timestamp: 0, step: 3).supersedes(base))
        #expect(!MetricPoint(value: 100, timestamp: 100, step: 1).supersedes(base))
        #expect(MetricPoint(value: 0, timestamp: 11, step: 2).supersedes(base))
        #expect(MetricPoint(value: 6, timestamp: 10, step: 2).supersedes(base))
        #expect(!MetricPoint(value: .nan, timestamp: 10, step: 2).supersedes(base))
        #expect(MetricPoint(value: -1, timestamp: 10, step: 2).supersedes(MetricPoint(value: .nan, timestamp: 10, step: 2)))
    }
}
