import Foundation
import LedgerCore
import Testing

/// When runs were deleted, which `runledger gc` reads: the same on every backend, the server's route included.
@Suite("Deleted runs conformance")
struct DeletedRunsConformanceTests {
    @Test(
        "a deletion records its time, a restore clears it, a second deletion keeps the first time, an experiment's deletion covers its runs",
        arguments: StoreBackend.all)
    func deletionTimes(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "study", artifactLocation: nil, tags: [])
        let runs = (0..<3).map { NewRun(experimentID: experiment.id, startTime: Int64($0)) }
        for run in runs { try await store.createRun(run) }
        #expect(try await store.deletedRuns(before: .max).isEmpty)

        let before = WallClock.milliseconds()
        try await store.setRunLifecycle(runs[0].runID, .deleted)
        let after = WallClock.milliseconds()
        let first = try await store.deletedRuns(before: .max)
        #expect(first.map(\.runID) == [runs[0].runID])
        let deletedAt = try #require(first.first?.deletedTime)
        #expect(deletedAt >= before && deletedAt <= after)
        #expect(first.first?.artifactURI == "mlflow-artifacts:/\(experiment.id)/\(runs[0].runID)/artifacts")
        #expect(try await store.deletedRuns(before: deletedAt - 1).isEmpty)
        #expect(try await store.deletedRuns(before: deletedAt).map(\.runID) == [runs[0].runID])

        try await store.setRunLifecycle(runs[0].runID, .active)
        #expect(try await store.deletedRuns(before: .max).isEmpty)
        try await store.setRunLifecycle(runs[0].runID, .deleted)
        let again = try #require(try await store.deletedRuns(before: .max).first?.deletedTime)
        #expect(again >= deletedAt)

        // Deleting the experiment deletes the other runs now and keeps the earlier deletion's time.
        try await store.updateExperiment(id: experiment.id, .setLifecycle(.deleted))
        let all = try await store.deletedRuns(before: .max)
        #expect(Set(all.map(\.runID)) == Set(runs.map(\.runID)))
        #expect(all.first { $0.runID == runs[0].runID }?.deletedTime == again)
        #expect(all.map(\.deletedTime) == all.map(\.deletedTime).sorted())
        try await store.updateExperiment(id: experiment.id, .setLifecycle(.active))
        #expect(try await store.deletedRuns(before: .max).isEmpty)
        #expect(try await store.deletedRuns(before: .min).isEmpty)
        try await store.close()
    }
}
