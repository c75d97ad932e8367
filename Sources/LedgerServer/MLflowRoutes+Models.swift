import Hummingbird
import LedgerCore

/// MLflow 3's logged-model routes and run inputs/outputs: what `mlflow.<flavor>.log_model`, `load_model` and
/// `mlflow.log_input` call.
extension MLflowRoutes {
    var modelRoutes: [Route] {
        let modelID = Parameter("model_id", .pattern("^m-[0-9a-f]{32}$"), required: true)
        let keyValues = Schema.array(.reference("KeyValue"))
        let model = Schema.object([("model", .object([("info", .object([])), ("data", .object([]))]))], required: ["model"])
        let empty = Schema.object([])
        let runID = Parameter("run_id", .pattern("^[0-9a-fA-F]{32}$"), required: true)
        return [
            Route(
                .post, "logged-models", "Create a logged model (PENDING).", writes: true,
                [
                    Parameter("experiment_id", .pattern("^[0-9]+$"), required: true), Parameter("name", .string), Parameter("model_type", .string),
                    Parameter("source_run_id", .string), Parameter("params", keyValues), Parameter("tags", keyValues),
                ],
                model, createLoggedModel
            ),
            Route(
                .post, "logged-models/search", "Search logged models.", writes: false,
                [
                    Parameter("experiment_ids", .array(.string), required: true), Parameter("filter", .string),
                    Parameter("order_by", .array(.object([("field_name", .string), ("ascending", .boolean)]))), Parameter("max_results", .int64),
                    Parameter("page_token", .string), Parameter("datasets", .array(.object([]))),
                ],
                .object([("models", .array(.object([]))), ("next_page_token", .string)], required: ["models"]), searchLoggedModels
            ),
            Route(.get, "logged-models/:model_id", "A logged model.", writes: false, [modelID, Parameter("allow_deleted", .string)], model) {
                let deleted = try $0.string("allow_deleted")?.lowercased() == "true"
                return .object([
                    ("model", MLflowJSON.loggedModel(try await self.store.loggedModel(id: try $0.requiredString("model_id"), allowDeleted: deleted)))
                ])
            },
            Route(
                .patch, "logged-models/:model_id", "Finalize a logged model (READY or UPLOAD_FAILED).", writes: true,
                [modelID, Parameter("status", .string, required: true)], model
            ) {
                let status = try self.modelStatus($0)
                return .object([
                    (
                        "model",
                        MLflowJSON.loggedModel(try await self.store.updateLoggedModel(id: try $0.requiredString("model_id"), .finalize(status)))
                    )
                ])
            },
            Route(.delete, "logged-models/:model_id", "Delete a logged model (soft).", writes: true, [modelID], empty) {
                _ = try await self.store.updateLoggedModel(id: try $0.requiredString("model_id"), .delete)
                return .object([])
            },
            Route(
                .patch, "logged-models/:model_id/tags", "Set tags of a logged model.", writes: true, [modelID, Parameter("tags", keyValues)], empty
            ) {
                _ = try await self.store.updateLoggedModel(id: try $0.requiredString("model_id"), .setTags(try $0.keyValues("tags")))
                return .object([])
            },
            Route(
                .delete, "logged-models/:model_id/tags/:tag_key", "Delete a tag of a logged model.", writes: true,
                [modelID, Parameter("tag_key", .string, required: true)], empty
            ) {
                _ = try await self.store.updateLoggedModel(id: try $0.requiredString("model_id"), .deleteTag(try $0.requiredString("tag_key")))
                return .object([])
            },
            Route(
                .post, "logged-models/:model_id/params", "Log params of a logged model.", writes: true, [modelID, Parameter("params", keyValues)],
                empty
            ) {
                _ = try await self.store.updateLoggedModel(id: try $0.requiredString("model_id"), .logParams(try $0.keyValues("params")))
                return .object([])
            },
            Route(
                .post, "runs/log-model", "Append a model to the run's mlflow.log-model.history tag (MLflow 2's model record).", writes: true,
                [runID, Parameter("model_json", .string, required: true)], empty, logModel
            ),
            Route(
                .post, "runs/outputs", "Record the models a run produced.", writes: true,
                [runID, Parameter("models", .array(.object([("model_id", .string), ("step", .int64)])))], empty
            ) { fields in
                let outputs = try fields.objects("models").map { item in
                    RunModelOutput(modelID: try item.requiredString("model_id"), step: try item.int64("step") ?? 0)
                }
                try await self.store.logOutputs(runID: try fields.runID(), outputs)
                return .object([])
            },
            Route(
                .post, "runs/log-inputs", "Record the datasets and models a run read.", writes: true,
                [runID, Parameter("datasets", .array(.object([]))), Parameter("models", .array(.object([("model_id", .string)])))], empty
            ) { fields in
                let datasets = try fields.objects("datasets").map { item in
                    let dataset = try item.object("dataset")
                    return DatasetInput(
                        name: try dataset.requiredString("name"), digest: try dataset.requiredString("digest"),
                        sourceType: try dataset.requiredString("source_type"), source: try dataset.requiredString("source"),
                        schema: try dataset.string("schema"), profile: try dataset.string("profile"), tags: try item.keyValues("tags"))
                }
                let models = try fields.objects("models").map { try $0.requiredString("model_id") }
                try await self.store.logInputs(runID: try fields.runID(), datasets: datasets, models: models)
                return .object([])
            },
        ]
    }

    @Sendable func createLoggedModel(_ fields: RequestFields) async throws -> JSONValue {
        let experimentID = try fields.experimentID()
        let source = try fields.string("source_run_id").flatMap { $0.isEmpty ? nil : $0 }
        let sourceRunID = try source.map { text in
            guard let id = RunID(text) else { throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "Invalid source_run_id '\(text.prefix(100))'.") }
            return id
        }
        let model = NewLoggedModel(
            experimentID: experimentID, name: try fields.string("name").flatMap { $0.isEmpty ? nil : $0 } ?? RunNames.random(),
            modelType: try fields.string("model_type") ?? "", sourceRunID: sourceRunID, params: try fields.keyValues("params"),
            tags: try fields.keyValues("tags")
        )
        return .object([("model", MLflowJSON.loggedModel(try await store.createLoggedModel(model)))])
    }

    @Sendable func searchLoggedModels(_ fields: RequestFields) async throws -> JSONValue {
        let experiments = try fields.strings("experiment_ids").map { text in try RequestFields.experimentID(text) }
        guard !experiments.isEmpty else { throw APIError.missing("experiment_ids") }
        let order = try fields.objects("order_by").map { item in
            (field: try item.requiredString("field_name"), ascending: try item.bool("ascending") ?? true)
        }
        let search = try LoggedModelSearch(filter: try fields.string("filter"), orderBy: order)
        let maxResults = Int(clamping: try fields.int64("max_results") ?? 100)
        let page = try search.page(
            of: try await store.loggedModels(experimentIDs: experiments), maxResults: maxResults, pageToken: try fields.string("page_token"))
        var members: [(String, JSONValue)] = [("models", .array(page.models.map(MLflowJSON.loggedModel)))]
        if let token = page.nextPageToken { members.append(("next_page_token", .string(token))) }
        return .object(members)
    }

    /// The status of a finalize request: MLflow's name or its enum number.
    func modelStatus(_ fields: RequestFields) throws -> LoggedModelStatus {
        switch fields.value("status") {
        case .string(let text)?: return try LoggedModelStatus.parse(text)
        case .integer(let number)?: return try LoggedModelStatus.parse(String(number))
        case let other?: throw APIError.invalidValue(other, for: "status", expected: "a logged model status")
        case nil: throw APIError.missing("status")
        }
    }

    /// MLflow's `record_logged_model`: the model's summary (run, time, path, uuid, flavors without their `config`)
    /// appended to the JSON list in the run's `mlflow.log-model.history` tag.
    @Sendable func logModel(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        let text = try fields.requiredString("model_json")
        guard let model = try? JSONValue(parsing: Array(text.utf8)), case .object(let members) = model else {
            throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "Malformed model info: model_json is not a JSON object.")
        }
        let missing = ["artifact_path", "flavors", "utc_time_created", "run_id"].filter { model[$0] == nil }
        guard missing.isEmpty else {
            throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "Model json is missing mandatory fields: \(missing.joined(separator: ", ")).")
        }
        var summary = members.filter { ["run_id", "utc_time_created", "artifact_path", "model_uuid"].contains($0.0) }
        if case .object(let flavors)? = model["flavors"] {
            summary.append(
                (
                    "flavors",
                    .object(
                        flavors.map { name, config in
                            guard case .object(let settings) = config else { return (name, config) }
                            return (name, .object(settings.filter { $0.0 != "config" }))
                        })
                )
            )
        } else {
            summary.append(("flavors", .object([])))
        }
        let run = try await store.run(runID)
        guard run.info.lifecycleStage == .active else { throw LedgerError.runNotActive(runID) }
        var history: [JSONValue] = []
        if let previous = run.tags[Self.modelHistoryTag], case .array(let entries)? = try? JSONValue(parsing: Array(previous.utf8)) {
            history = entries
        }
        history.append(.object(summary))
        try await store.setTag(runID: runID, key: Self.modelHistoryTag, value: JSONValue.array(history).description)
        return .object([])
    }

    static let modelHistoryTag = "mlflow.log-model.history"
}
