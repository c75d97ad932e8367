import Foundation
import LedgerCore
import Testing

/// Logged models and run inputs/outputs: the same behaviour on every backend, the server's routes included.
@Suite("Logged model conformance")
struct ModelConformanceTests {
    @Test(
        "a model is created PENDING below its experiment's location, tagged, finalized, listed newest first, deleted softly",
        arguments: StoreBackend.all)
    func lifecycle(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "surrogates", artifactLocation: nil, tags: [])
        let run = NewRun(experimentID: experiment.id, startTime: 1)
        try await store.createRun(run)
        let first = try await store.createLoggedModel(
            NewLoggedModel(
                experimentID: experiment.id, name: "linear", modelType: "sklearn", sourceRunID: run.runID, params: [KeyValue("depth", "3")],
                tags: [KeyValue("team", "grid")]))
        #expect(first.status == .pending && first.sourceRunID == run.runID && first.params == ["depth": "3"] && first.tags == ["team": "grid"])
        #expect(first.artifactURI == "mlflow-artifacts:/\(experiment.id)/models/\(first.id)/artifacts")
        let second = try await store.createLoggedModel(NewLoggedModel(experimentID: experiment.id, name: "forest"))
        #expect(try await store.loggedModels(experimentIDs: [experiment.id]).map(\.id).sorted() == [first.id, second.id].sorted())

        var changed = try await store.updateLoggedModel(id: first.id, .finalize(.ready))
        #expect(changed.status == .ready)
        changed = try await store.updateLoggedModel(id: first.id, .setTags([KeyValue("stage", "candidate"), KeyValue("team", "heat")]))
        #expect(changed.tags == ["stage": "candidate", "team": "heat"])
        changed = try await store.updateLoggedModel(id: first.id, .deleteTag("stage"))
        #expect(changed.tags == ["team": "heat"])
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.updateLoggedModel(id: first.id, .deleteTag("stage")) }
        changed = try await store.updateLoggedModel(id: first.id, .logParams([KeyValue("alpha", "0.1")]))
        #expect(changed.params == ["depth": "3", "alpha": "0.1"])

        _ = try await store.updateLoggedModel(id: second.id, .delete)
        #expect(try await store.loggedModels(experimentIDs: [experiment.id]).map(\.id) == [first.id])
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.loggedModel(id: second.id, allowDeleted: false) }
        #expect(try await store.loggedModel(id: second.id, allowDeleted: true).lifecycle == .deleted)
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.loggedModel(id: LoggedModel.newID(), allowDeleted: true) }
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.loggedModel(id: "m-../../x", allowDeleted: true) }
        try await store.close()
    }

    @Test("bad names, unknown and deleted experiments are refused before anything is written", arguments: StoreBackend.all)
    func refusals(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "e", artifactLocation: nil, tags: [])
        for name in ["", "a/b", "a.b", "50%", "it's", String(repeating: "x", count: 300)] {
            await expectLedgerError(.invalidParameterValue) {
                _ = try await store.createLoggedModel(NewLoggedModel(experimentID: experiment.id, name: name))
            }
        }
        await expectLedgerError(.invalidParameterValue) {
            _ = try await store.createLoggedModel(NewLoggedModel(experimentID: experiment.id, name: "m", tags: [KeyValue("k", "a\u{0}b")]))
        }
        await expectLedgerError(.resourceDoesNotExist) {
            _ = try await store.createLoggedModel(NewLoggedModel(experimentID: ExperimentID(999), name: "m"))
        }
        try await store.updateExperiment(id: experiment.id, .setLifecycle(.deleted))
        await expectLedgerError(.invalidParameterValue, "active") {
            _ = try await store.createLoggedModel(NewLoggedModel(experimentID: experiment.id, name: "m"))
        }
        try await store.updateExperiment(id: experiment.id, .setLifecycle(.active))
        #expect(try await store.loggedModels(experimentIDs: [experiment.id]).isEmpty)
        try await store.close()
    }

    @Test("a run's outputs and inputs are kept once each, in order; a deleted run refuses them", arguments: StoreBackend.all)
    func runInputsAndOutputs(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "io", artifactLocation: nil, tags: [])
        let run = NewRun(experimentID: experiment.id, startTime: 1)
        try await store.createRun(run)
        let model = try await store.createLoggedModel(NewLoggedModel(experimentID: experiment.id, name: "m", sourceRunID: run.runID))
        try await store.logOutputs(runID: run.runID, [RunModelOutput(modelID: model.id, step: 0)])
        try await store.logOutputs(runID: run.runID, [RunModelOutput(modelID: model.id, step: 0), RunModelOutput(modelID: model.id, step: 5)])
        let profile = DatasetInput(
            name: "load-profile", digest: "abc123", sourceType: "code", source: "{}", schema: "{\"columns\": 2}",
            tags: [KeyValue("mlflow.data.context", "train")])
        try await store.logInputs(runID: run.runID, datasets: [profile], models: [])
        var retagged = profile
        retagged.tags = [KeyValue("mlflow.data.context", "eval")]
        try await store.logInputs(runID: run.runID, datasets: [retagged], models: [model.id, model.id])
        let io = try await store.runIO(runID: run.runID)
        #expect(io.outputs == [RunModelOutput(modelID: model.id, step: 0), RunModelOutput(modelID: model.id, step: 5)])
        #expect(io.datasets == [retagged] && io.modelInputs == [model.id])
        await expectLedgerError(.resourceDoesNotExist) { try await store.logOutputs(runID: RunID.random(), []) }
        try await store.setRunLifecycle(run.runID, .deleted)
        await expectLedgerError(.invalidParameterValue, "active") {
            try await store.logInputs(runID: run.runID, datasets: [profile], models: [])
        }
        try await store.close()
    }
}
