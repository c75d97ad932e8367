import Foundation
import LedgerCore
import Testing

/// Events across runs: searches and per-bucket summaries, on every backend, against a reference over the same events.
@Suite("Event search conformance")
struct EventSearchConformanceTests {
    /// One logged event with what a search selects it by.
    struct Logged {
        var runID: RunID
        var experiment: ExperimentID
        var solver: String
        var deleted: Bool
        var event: RunEvent
    }

    @Test(
        "searches and summaries across runs select by experiment, filter, view, kind, level and time; newest first; edge timestamps kept",
        arguments: StoreBackend.all)
    func searchAndSummary(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let north = try await store.createExperiment(name: "north", artifactLocation: nil, tags: []).id
        let south = try await store.createExperiment(name: "south", artifactLocation: nil, tags: []).id
        var logged: [Logged] = []
        var random = SystemRandomNumberGenerator()
        let kinds = ["health_check", "tool_call", "Zeta", "alpha"]
        let edges: [Int64] = [.min, .min + 1, -1, 0, .max, -1_500]
        for index in 0..<9 {
            let experiment = index < 7 ? north : south
            let solver = index % 2 == 0 ? "a" : "b"
            let run = try await store.createRun(NewRun(experimentID: experiment, startTime: Int64(index)), params: [KeyValue("solver", solver)])
            var events: [RunEvent] = []
            for item in 0..<40 {
                let timestamp = item < edges.count ? edges[item] : Int64.random(in: 0..<10_000, using: &random)
                events.append(
                    RunEvent(timestamp: timestamp, level: EventLevel.allCases.randomElement(using: &random) ?? .info, kind: kinds[(index + item) % 4])
                )
            }
            // Two batches, so that logged order differs from timestamp order.
            for part in [events[..<25], events[25...]] {
                _ = try await store.write(WriteBatch([.logEvents(run.runID, Array(part))]))
                logged += part.map { Logged(runID: run.runID, experiment: experiment, solver: solver, deleted: index == 3, event: $0) }
            }
            if index == 3 { try await store.setRunLifecycle(run.runID, .deleted) }
        }

        func selected(_ search: EventSearch) -> [Logged] {
            // Newest first; among one millisecond, the last logged first.
            logged.enumerated().sorted { ($0.element.event.timestamp, $0.offset) > ($1.element.event.timestamp, $1.offset) }.map(\.element)
                .filter { item in
                    search.runs.experimentIDs.contains(item.experiment) && search.runs.view.stages.contains(item.deleted ? .deleted : .active)
                        && (search.runs.filter == .all || item.solver == "a") && (search.kinds.isEmpty || search.kinds.contains(item.event.kind))
                        && item.event.level >= search.minimumLevel && item.event.timestamp >= (search.from ?? .min)
                        && item.event.timestamp < (search.to ?? .max)
                }
        }
        let solverA = try Filter.parse("params.solver = 'a'")
        let searches = [
            EventSearch(runs: RunQuery(experimentIDs: [north])),
            EventSearch(runs: RunQuery(experimentIDs: [north, south], view: .all), limit: 100_000),
            EventSearch(
                runs: RunQuery(experimentIDs: [north], filter: solverA), kinds: ["health_check", "Zeta"], minimumLevel: .warning, from: 0, to: 5_000),
            EventSearch(runs: RunQuery(experimentIDs: [south], view: .deletedOnly)),
            EventSearch(runs: RunQuery(experimentIDs: [north]), minimumLevel: .error, limit: 3),
            EventSearch(runs: RunQuery(experimentIDs: [north, south]), from: .min, to: 0),
        ]
        for search in searches {
            let answer = try await store.searchEvents(search)
            let expected = selected(search).prefix(search.limit)
            #expect(answer.map(\.runID) == expected.map(\.runID), "\(search)")
            #expect(answer.map(\.event) == expected.map(\.event), "\(search)")

            for width: Int64 in [1_000, 3_600_000, BucketWidth.maximum] {
                var counts: [String: Int64] = [:]
                for item in selected(search) {
                    let start = BucketWidth.start(of: item.event.timestamp, width: width)
                    counts["\(start)|\(item.event.kind)|\(item.event.level.rank)", default: 0] += 1
                }
                let reference = counts.map { key, count in
                    let parts = key.split(separator: "|", omittingEmptySubsequences: false)
                    return EventCount(
                        bucketStart: Int64(parts[0]) ?? 0, kind: String(parts[1]), level: EventLevel(rank: Int(parts[2]) ?? 0) ?? .debug, count: count
                    )
                }.sorted { a, b in
                    if a.bucketStart != b.bucketStart { return a.bucketStart < b.bucketStart }
                    if a.kind != b.kind { return a.kind.utf8.lexicographicallyPrecedes(b.kind.utf8) }
                    return a.level.rank < b.level.rank
                }
                #expect(try await store.eventSummary(search, width: width) == reference, "\(search) by \(width)")
            }
        }
        // The buckets of the earliest events: Int64.min's floor is not representable, and is named Int64.min.
        let earliest = try await store.eventSummary(EventSearch(runs: RunQuery(experimentIDs: [north]), to: .min + 2), width: 1_000)
        #expect(earliest.map(\.bucketStart).allSatisfy { $0 == .min })

        await expectLedgerError(.invalidParameterValue, "bucket") { _ = try await store.eventSummary(searches[0], width: 999) }
        await expectLedgerError(.invalidParameterValue, "bucket") { _ = try await store.eventSummary(searches[0], width: BucketWidth.maximum + 1) }
        await expectLedgerError(.invalidParameterValue, "event kind") {
            _ = try await store.searchEvents(EventSearch(runs: RunQuery(experimentIDs: [north]), kinds: ["../x"]))
        }
        await expectLedgerError(.invalidParameterValue, "limit") {
            _ = try await store.searchEvents(EventSearch(runs: RunQuery(experimentIDs: [north]), limit: 0))
        }
        await expectLedgerError(.invalidParameterValue, "experiment") {
            _ = try await store.searchEvents(EventSearch(runs: RunQuery(experimentIDs: [])))
        }
        try await store.close()
    }

    @Test("a summary of more than 10 000 rows is refused with what to change; 10 000 are answered", arguments: StoreBackend.all)
    func summaryBound(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let run = try await store.createRun(NewRun(experimentID: .defaultExperiment, startTime: 1))
        for batch in 0..<11 {
            let events = (0..<1000).map { RunEvent(timestamp: Int64(batch * 1000 + $0) * 1000, kind: "tick") }.filter { $0.timestamp < 10_001_000 }
            _ = try await store.write(WriteBatch([.logEvents(run.runID, events)]))
        }
        let all = EventSearch(runs: RunQuery(experimentIDs: [.defaultExperiment]))
        await expectLedgerError(.invalidParameterValue, "more than 10000 rows") { _ = try await store.eventSummary(all, width: 1_000) }
        var bounded = all
        bounded.to = 10_000_000
        let counts = try await store.eventSummary(bounded, width: 1_000)
        #expect(counts.count == 10_000 && counts.allSatisfy { $0.count == 1 } && counts.last?.bucketStart == 9_999_000)
        #expect(try await store.eventSummary(all, width: 2_000).map(\.count).reduce(0, +) == 10_001)
        try await store.close()
    }
}
