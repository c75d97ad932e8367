/// Logged models and run inputs/outputs: the statements both dialects share, and the rules as MLflow applies them.
extension StoreSQL {
    static let modelColumns = """
        SELECT m.model_id, m.experiment_id, m.name, m.model_type, m.source_run_id, m.status, m.status_message, m.artifact_uri,
        m.lifecycle_stage, m.creation_time, m.last_update_time FROM logged_models m
        """

    /// Creates a model in an active experiment; its artifacts go below the experiment's location.
    public static func createLoggedModel(_ model: NewLoggedModel, now: Int64) -> [Step] {
        let experiment = model.experimentID.rawValue
        var steps: [Step] = [
            .require("SELECT 1 FROM experiments WHERE experiment_id = \(experiment)", else: .experimentNotFound(model.experimentID)),
            .require(
                "SELECT 1 FROM experiments WHERE experiment_id = \(experiment) AND lifecycle_stage = 'active'",
                else: .experimentNotActive(model.experimentID)),
            .run(
                """
                INSERT INTO logged_models (model_id, experiment_id, name, model_type, source_run_id, status, artifact_uri, creation_time, last_update_time)
                SELECT \(model.id), experiment_id, \(model.name), \(model.modelType), \(model.sourceRunID?.rawValue),
                \(LoggedModelStatus.pending.rawValue), artifact_location || '/models/' || \(model.id) || '/artifacts', \(now), \(now)
                FROM experiments WHERE experiment_id = \(experiment)
                """
            ),
        ]
        steps += model.params.map { .run(modelKeyValue("logged_model_params", model.id, $0)) }
        steps += model.tags.map { .run(modelKeyValue("logged_model_tags", model.id, $0)) }
        return steps
    }

    private static func modelKeyValue(_ table: String, _ id: String, _ pair: KeyValue) -> SQLTemplate {
        "INSERT INTO \(raw: table) (model_id, key, value) VALUES (\(id), \(pair.key), \(pair.value)) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"
    }

    /// Applies a change to an existing, not deleted model.
    public static func updateLoggedModel(id: String, _ change: LoggedModelChange, now: Int64) -> [Step] {
        var steps: [Step] = [
            .require("SELECT 1 FROM logged_models WHERE model_id = \(id) AND lifecycle_stage = 'active'", else: .loggedModelNotFound(id))
        ]
        switch change {
        case .finalize(let status):
            steps.append(.run("UPDATE logged_models SET status = \(status.rawValue), last_update_time = \(now) WHERE model_id = \(id)"))
        case .setTags(let tags):
            steps += tags.map { .run(modelKeyValue("logged_model_tags", id, $0)) }
        case .deleteTag(let key):
            steps.append(
                .require(
                    "DELETE FROM logged_model_tags WHERE model_id = \(id) AND key = \(key) RETURNING 1",
                    else: LedgerError(.resourceDoesNotExist, "No tag with key '\(key)' found for model with ID '\(id)'.")))
        case .logParams(let params):
            steps += params.map { .run(modelKeyValue("logged_model_params", id, $0)) }
        case .delete:
            steps.append(.run("UPDATE logged_models SET lifecycle_stage = 'deleted', last_update_time = \(now) WHERE model_id = \(id)"))
        }
        switch change {
        case .setTags, .deleteTag, .logParams: steps.append(.run("UPDATE logged_models SET last_update_time = \(now) WHERE model_id = \(id)"))
        case .finalize, .delete: break
        }
        return steps
    }

    /// The statements that read models (their rows, tags and params) by id or by experiment.
    public static func loggedModels(ids: [String]? = nil, experiments: [ExperimentID]? = nil, includeDeleted: Bool) -> [SQLTemplate] {
        var condition: SQLTemplate = includeDeleted ? "1 = 1" : "m.lifecycle_stage = 'active'"
        if let ids { condition = "\(condition) AND m.model_id IN \(list: ids.map { .text($0) })" }
        if let experiments { condition = "\(condition) AND m.experiment_id IN \(list: experiments.map { .integer($0.rawValue) })" }
        let selected: SQLTemplate = "SELECT m.model_id FROM logged_models m WHERE \(condition)"
        return [
            "\(raw: modelColumns) WHERE \(condition) ORDER BY m.creation_time DESC, m.model_id",
            "SELECT model_id, key, value FROM logged_model_tags WHERE model_id IN (\(selected))",
            "SELECT model_id, key, value FROM logged_model_params WHERE model_id IN (\(selected))",
        ]
    }

    /// Models from the rows of ``loggedModels(ids:experiments:includeDeleted:)``.
    public static func loggedModels(_ rows: [[SQLRow]]) throws(LedgerError) -> [LoggedModel] {
        guard rows.count == 3 else { return [] }
        var tags: [String: [String: String]] = [:]
        var params: [String: [String: String]] = [:]
        for row in rows[1] { tags[try row.text(0), default: [:]][try row.text(1)] = try row.text(2) }
        for row in rows[2] { params[try row.text(0), default: [:]][try row.text(1)] = try row.text(2) }
        var models: [LoggedModel] = []
        for row in rows[0] {
            let id = try row.text(0)
            models.append(
                LoggedModel(
                    id: id, experimentID: ExperimentID(try row.int64(1)), name: try row.text(2), creationTime: try row.int64(9),
                    lastUpdateTime: try row.int64(10), artifactURI: try row.text(7),
                    status: LoggedModelStatus(rawValue: try row.text(5)) ?? .pending, statusMessage: try row.text(6), modelType: try row.text(3),
                    sourceRunID: try row.optionalText(4).flatMap(RunID.init), lifecycle: LifecycleStage(rawValue: try row.text(8)) ?? .active,
                    tags: tags[id] ?? [:], params: params[id] ?? [:]
                )
            )
        }
        return models
    }

    /// Records models a run produced (MLflow's `runs/outputs`); an output recorded before is kept once.
    public static func logOutputs(_ runID: RunID, _ outputs: [RunModelOutput]) -> [Step] {
        var steps = activeRun(runID)
        steps += outputs.map { output in
            .run(
                """
                INSERT INTO run_outputs (run_id, model_id, step) SELECT id, \(output.modelID), \(output.step) FROM runs WHERE run_uuid = \(runID.rawValue)
                ON CONFLICT (run_id, model_id, step) DO NOTHING
                """
            )
        }
        return steps
    }

    /// Records what a run read (MLflow's `runs/log-inputs`): a dataset already recorded under its (name, digest) gets
    /// the new tags, a model input is kept once.
    public static func logInputs(_ runID: RunID, datasets: [DatasetInput], models: [String]) -> [Step] {
        var steps = activeRun(runID)
        let run: SQLTemplate = "(SELECT id FROM runs WHERE run_uuid = \(runID.rawValue))"
        let next: SQLTemplate = "(SELECT COALESCE(MAX(position), -1) + 1 FROM run_inputs WHERE run_id = \(run))"
        for dataset in datasets {
            let tags = JSONValue.array(dataset.tags.map { .object([("key", .string($0.key)), ("value", .string($0.value))]) }).description
            steps.append(
                .run(
                    """
                    UPDATE run_inputs SET tags = \(tags), source_type = \(dataset.sourceType), source = \(dataset.source), schema = \(dataset.schema),
                    profile = \(dataset.profile) WHERE run_id = \(run) AND model_id IS NULL AND name = \(dataset.name) AND digest = \(dataset.digest)
                    """
                )
            )
            steps.append(
                .run(
                    """
                    INSERT INTO run_inputs (run_id, position, name, digest, source_type, source, schema, profile, tags)
                    SELECT \(run), \(next), \(dataset.name), \(dataset.digest), \(dataset.sourceType), \(dataset.source), \(dataset.schema),
                    \(dataset.profile), \(tags)
                    WHERE NOT EXISTS (SELECT 1 FROM run_inputs WHERE run_id = \(run) AND model_id IS NULL AND name = \(dataset.name) AND digest = \(dataset.digest))
                    """
                )
            )
        }
        for model in models {
            steps.append(
                .run(
                    """
                    INSERT INTO run_inputs (run_id, position, model_id) SELECT \(run), \(next), \(model)
                    WHERE NOT EXISTS (SELECT 1 FROM run_inputs WHERE run_id = \(run) AND model_id = \(model))
                    """
                )
            )
        }
        return steps
    }

    private static func activeRun(_ runID: RunID) -> [Step] {
        [
            .require("SELECT 1 FROM runs WHERE run_uuid = \(runID.rawValue)", else: .runNotFound(runID)),
            .require(
                "SELECT 1 FROM runs WHERE run_uuid = \(runID.rawValue) AND lifecycle_stage = 'active'",
                else: .runNotActive(runID)),
        ]
    }

    /// A run's inputs and outputs, in the order they were recorded.
    public static func runIO(_ runID: RunID) -> [SQLTemplate] {
        let run: SQLTemplate = "(SELECT id FROM runs WHERE run_uuid = \(runID.rawValue))"
        return [
            "SELECT model_id, name, digest, source_type, source, schema, profile, tags FROM run_inputs WHERE run_id = \(run) ORDER BY position",
            "SELECT model_id, step FROM run_outputs WHERE run_id = \(run) ORDER BY step, model_id",
        ]
    }

    /// A run's inputs and outputs from the rows of ``runIO(_:)``.
    public static func runIO(_ rows: [[SQLRow]]) throws(LedgerError) -> RunIO {
        guard rows.count == 2 else { return RunIO() }
        var io = RunIO()
        for row in rows[0] {
            if let model = try row.optionalText(0) {
                io.modelInputs.append(model)
                continue
            }
            var tags: [KeyValue] = []
            if case .array(let items)? = try? JSONValue(parsing: Array(try row.text(7).utf8)) {
                tags = items.compactMap { item in item["key"]?.text.map { KeyValue($0, item["value"]?.text ?? "") } }
            }
            io.datasets.append(
                DatasetInput(
                    name: try row.text(1), digest: try row.text(2), sourceType: try row.text(3), source: try row.text(4),
                    schema: try row.optionalText(5),
                    profile: try row.optionalText(6), tags: tags
                )
            )
        }
        io.outputs = try rows[1].map { row throws(LedgerError) in RunModelOutput(modelID: try row.text(0), step: try row.int64(1)) }
        return io
    }
}

extension LedgerError {
    /// No logged model has this id (or it was deleted).
    public static func loggedModelNotFound(_ id: String) -> LedgerError {
        LedgerError(.resourceDoesNotExist, "Logged model with ID '\(id.prefix(100))' not found.")
    }
}
