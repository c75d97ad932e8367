import LedgerCore
import Testing

/// Random filters over random runs: every backend must return exactly what the in-memory evaluator returns, in the
/// same order, across page boundaries.
@Suite("Query language differential")
struct QueryDifferentialTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 29)
        }
        mutating func pick<T>(_ values: [T]) -> T { values[Int(next() % UInt64(values.count))] }
        mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }
    }

    static let numbers: [Double] = [-1, 0, 0.5, 1, 2, 1e300, .nan, .infinity, -.infinity]
    static let literals: [Double] = [-1, 0, 0.5, 1, 2, 1e300, -1e300]
    static let strings = ["", "a", "A", "ab", "aB", "a%b", "b_c", "é", "x y", "abc", "zz", "a'b"]
    static let patterns = ["a%", "%b", "_", "A%", "%", "a_", "%é%", "a%b", "%'%", "_b%", "ab", "AB", "%_%", "b[c", "*"]

    func makeRuns(_ g: inout Generator, in store: any TrackingStore, experiment: ExperimentID) async throws -> [RunID] {
        var ids: [RunID] = []
        for index in 0..<60 {
            let run = NewRun(
                runID: RunID(random: &g), experimentID: experiment, name: g.pick(Self.strings), startTime: Int64(g.pick([0, 1, 2, 5])),
                userID: g.pick(["u", "v"])
            )
            var operations: [WriteOperation] = [.createRun(run)]
            let metrics = ["a", "b", "c"].filter { _ in g.chance(70) }.map { Metric(key: $0, value: g.pick(Self.numbers), timestamp: 1, step: 0) }
            if !metrics.isEmpty { operations.append(.logMetrics(run.runID, metrics)) }
            let params = ["p", "q"].filter { _ in g.chance(70) }.map { KeyValue($0, g.pick(Self.strings)) }
            if !params.isEmpty { operations.append(.logParams(run.runID, params)) }
            if g.chance(60) { operations.append(.setTags(run.runID, [KeyValue("t", g.pick(Self.strings))])) }
            if g.chance(60) {
                operations.append(.updateRun(run.runID, RunUpdate(status: g.pick([.finished, .failed]), endTime: Int64(g.pick([3, 4, 9])))))
            }
            _ = try await store.write(WriteBatch(operations))
            if index % 10 == 9 { try await store.setRunLifecycle(run.runID, .deleted) }
            ids.append(run.runID)
        }
        return ids
    }

    func randomField(_ g: inout Generator) -> Field {
        g.pick([
            .metric("a"), .metric("b"), .metric("c"), .param("p"), .param("q"), .tag("t"), .attribute(.runName), .attribute(.status),
            .attribute(.startTime), .attribute(.endTime), .attribute(.userID),
        ])
    }

    func randomComparison(_ g: inout Generator) -> Comparison {
        let field = randomField(&g)
        let comparator = g.pick(Comparator.allowed(for: field))
        let literal: Literal
        switch comparator {
        case .isNull, .isNotNull: literal = .none
        case .in, .notIn: literal = .strings((0..<Int(1 + g.next() % 3)).map { _ in g.pick(Self.strings) })
        case .like, .ilike: literal = .string(g.pick(Self.patterns))
        default:
            if field.isNumeric {
                literal = .number(field.isTimeAttribute ? Double(g.pick([0, 1, 2, 3, 4, 5, 9])) : g.pick(Self.literals))
            } else if field == .attribute(.status) {
                literal = .string(g.pick(["RUNNING", "FINISHED", "FAILED", "finished"]))
            } else {
                literal = .string(g.pick(Self.strings))
            }
        }
        return Comparison(field, comparator, literal)
    }

    func randomFilter(_ g: inout Generator, depth: Int = 0) -> Filter {
        guard depth < 3, g.chance(45) else { return .comparison(randomComparison(&g)) }
        switch g.next() % 3 {
        case 0: return .and(randomFilter(&g, depth: depth + 1), randomFilter(&g, depth: depth + 1))
        case 1: return .or(randomFilter(&g, depth: depth + 1), randomFilter(&g, depth: depth + 1))
        default: return .not(randomFilter(&g, depth: depth + 1))
        }
    }

    @Test(
        "SQL results equal the reference evaluator's for random filters, orders and page sizes", arguments: StoreBackend.all, [1, 2, 3] as [UInt64])
    func differential(backend: StoreBackend, seed: UInt64) async throws {
        var g = Generator(state: seed)
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "diff", artifactLocation: nil, tags: []).id
        let ids = try await makeRuns(&g, in: store, experiment: experiment)
        // Runs of a second experiment share every key and value: a search must keep to the experiments it names.
        let other = try await store.createExperiment(name: "other", artifactLocation: nil, tags: []).id
        let otherIDs = try await makeRuns(&g, in: store, experiment: other)
        var all: [Run] = []
        for id in ids + otherIDs { all.append(try await store.run(id)) }
        var nonTrivial = 0
        for _ in 0..<150 {
            let filter = randomFilter(&g)
            let order = (0..<Int(g.next() % 3)).map { _ in OrderKey(randomField(&g), ascending: g.chance(50)) }
            let view = g.pick([ViewType.activeOnly, .deletedOnly, .all])
            // The filter goes through its printed form, so parsing is part of what is compared.
            let parsed = try Filter.parse(filter.description)
            #expect(parsed == filter)
            let searched = g.pick([[experiment], [experiment], [other, experiment]])
            let query = RunQuery(experimentIDs: searched, filter: parsed, orderBy: order, maxResults: Int(1 + g.next() % 9), view: view)
            let actual = try await store.searchAllRuns(query).map(\.info.runID)
            let expected = all.filter {
                searched.contains($0.info.experimentID) && view.stages.contains($0.info.lifecycleStage) && filter.matches($0)
            }
            .sorted(by: query.effectiveOrder).map(\.info.runID)
            #expect(actual == expected, "filter: \(filter) order: \(order) view: \(view)")
            if !expected.isEmpty && expected.count < ids.count / 2 { nonTrivial += 1 }
        }
        #expect(nonTrivial > 30, "the generator produces selective filters")
    }
}
