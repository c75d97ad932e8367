import Foundation
public import LedgerCore

/// Logged models and run inputs/outputs through the server's MLflow routes.
extension RemoteStore {
    public func createLoggedModel(_ model: NewLoggedModel) async throws -> LoggedModel {
        // The same checks as a local store's, before the server would give an empty name a random one as MLflow does.
        try StoreRules.checkNewLoggedModel(model)
        // The server chooses the id, as MLflow's does.
        var body: [(String, JSONValue)] = [
            ("experiment_id", .string(model.experimentID.description)), ("name", .string(model.name)), ("model_type", .string(model.modelType)),
            ("params", MLflowJSON.keyValues(model.params)), ("tags", MLflowJSON.keyValues(model.tags)),
        ]
        if let run = model.sourceRunID { body.append(("source_run_id", .string(run.rawValue))) }
        return try MLflowJSON.loggedModel(from: try await mlflow(.POST, "logged-models", body)["model"])
    }

    public func loggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel {
        guard LoggedModel.isValidID(id) else { throw LedgerError.loggedModelNotFound(id) }
        let answer = try await call(.GET, "/api/2.0/mlflow/logged-models/\(id)", query: [("allow_deleted", allowDeleted ? "true" : "false")])
        return try MLflowJSON.loggedModel(from: answer["model"])
    }

    public func updateLoggedModel(id: String, _ change: LoggedModelChange) async throws -> LoggedModel {
        guard LoggedModel.isValidID(id) else { throw LedgerError.loggedModelNotFound(id) }
        let path = "/api/2.0/mlflow/logged-models/\(id)"
        switch change {
        case .finalize(let status):
            _ = try await call(.PATCH, path, body: .object([("model_id", .string(id)), ("status", .string(status.rawValue))]))
        case .setTags(let tags): _ = try await call(.PATCH, path + "/tags", body: .object([("tags", MLflowJSON.keyValues(tags))]))
        case .deleteTag(let key):
            let escaped = key.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? key
            _ = try await call(.DELETE, path + "/tags/\(escaped)")
        case .logParams(let params):
            _ = try await call(.POST, path + "/params", body: .object([("model_id", .string(id)), ("params", MLflowJSON.keyValues(params))]))
        case .delete:
            _ = try await call(.DELETE, path)
            return try await loggedModel(id: id, allowDeleted: true)
        }
        return try await loggedModel(id: id, allowDeleted: false)
    }

    public func loggedModels(experimentIDs: [ExperimentID]) async throws -> [LoggedModel] {
        var models: [LoggedModel] = []
        var token: String?
        repeat {
            var body: [(String, JSONValue)] = [
                ("experiment_ids", .array(experimentIDs.map { .string($0.description) })), ("max_results", .integer(1000)),
            ]
            if let token { body.append(("page_token", .string(token))) }
            let answer = try await mlflow(.POST, "logged-models/search", body)
            if case .array(let items)? = answer["models"] {
                models += try items.map { item throws(LedgerError) in try MLflowJSON.loggedModel(from: item) }
            }
            token = answer["next_page_token"]?.text.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return models
    }

    public func logOutputs(runID: RunID, _ outputs: [RunModelOutput]) async throws {
        let models = JSONValue.array(outputs.map { .object([("model_id", .string($0.modelID)), ("step", .integer($0.step))]) })
        _ = try await mlflow(.POST, "runs/outputs", [("run_id", .string(runID.rawValue)), ("models", models)])
    }

    public func logInputs(runID: RunID, datasets: [DatasetInput], models: [String]) async throws {
        _ = try await mlflow(
            .POST, "runs/log-inputs",
            [
                ("run_id", .string(runID.rawValue)), ("datasets", .array(datasets.map(MLflowJSON.datasetInput))),
                ("models", .array(models.map { .object([("model_id", .string($0))]) })),
            ])
    }

    public func runIO(runID: RunID) async throws -> RunIO {
        let answer = try await call(.GET, "/api/2.0/mlflow/runs/get", query: [("run_id", runID.rawValue)])
        return MLflowJSON.runIO(from: answer["run"])
    }
}
