/// MLflow's JSON shapes for RunLedger's values (protobuf JSON with MLflow's field names; int64 as numbers), both ways:
/// the server writes them and the remote store reads them, from this one definition.
public enum MLflowJSON {
    // MARK: Values → JSON

    /// `[{key, value}]`, sorted by key.
    public static func keyValues(_ pairs: [String: String]) -> JSONValue {
        keyValues(pairs.sorted { $0.key < $1.key }.map { KeyValue($0.key, $0.value) })
    }

    /// `[{key, value}]`, in the given order.
    public static func keyValues(_ pairs: [KeyValue]) -> JSONValue {
        .array(pairs.map { .object([("key", .string($0.key)), ("value", .string($0.value))]) })
    }

    public static func experiment(_ experiment: Experiment) -> JSONValue {
        .object([
            ("experiment_id", .string(experiment.id.description)),
            ("name", .string(experiment.name)),
            ("artifact_location", .string(experiment.artifactLocation)),
            ("lifecycle_stage", .string(experiment.lifecycleStage.rawValue)),
            ("last_update_time", .integer(experiment.lastUpdateTime)),
            ("creation_time", .integer(experiment.creationTime)),
            ("tags", keyValues(experiment.tags)),
        ])
    }

    public static func runInfo(_ info: RunInfo) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("run_id", .string(info.runID.rawValue)),
            ("run_uuid", .string(info.runID.rawValue)),
            ("run_name", .string(info.name)),
            ("experiment_id", .string(info.experimentID.description)),
            ("user_id", .string(info.userID)),
            ("status", .string(info.status.rawValue)),
            ("start_time", .integer(info.startTime)),
        ]
        if let end = info.endTime { members.append(("end_time", .integer(end))) }
        members += [("artifact_uri", .string(info.artifactURI)), ("lifecycle_stage", .string(info.lifecycleStage.rawValue))]
        return .object(members)
    }

    public static func metric(key: String, _ point: MetricPoint) -> JSONValue {
        .object([("key", .string(key)), ("value", .number(point.value)), ("timestamp", .integer(point.timestamp)), ("step", .integer(point.step))])
    }

    /// `{info, data: {metrics, params, tags}, inputs}`.
    public static func run(_ run: Run) -> JSONValue {
        .object([
            ("info", runInfo(run.info)),
            (
                "data",
                .object([
                    ("metrics", .array(run.latestMetrics.sorted { $0.key < $1.key }.map { metric(key: $0.key, $0.value) })),
                    ("params", keyValues(run.params)),
                    ("tags", keyValues(run.tags)),
                ])
            ),
            ("inputs", .object([])),
        ])
    }

    // MARK: JSON → values

    /// An answer that is not the shape MLflow's API gives: the server is not what the client expects, so the data
    /// is kept (``LedgerError/Code/storeUnavailable``), not dropped.
    public static func unexpected(_ what: String, _ answer: JSONValue) -> LedgerError {
        LedgerError(.storeUnavailable, "The server's answer to \(what) is not what RunLedger expects: \(answer.description.prefix(200)).")
    }

    /// The pairs of `[{key, value}]`; a missing value is empty, as in MLflow.
    public static func pairs(_ value: JSONValue?) -> [String: String] {
        guard case .array(let items)? = value else { return [:] }
        var result: [String: String] = [:]
        for item in items { if let key = item["key"]?.text { result[key] = item["value"]?.text ?? "" } }
        return result
    }

    public static func experiment(from value: JSONValue?) throws(LedgerError) -> Experiment {
        guard let value, let id = value["experiment_id"]?.text.flatMap(ExperimentID.init), let name = value["name"]?.text else {
            throw unexpected("an experiment", value ?? .null)
        }
        return Experiment(
            id: id, name: name, artifactLocation: value["artifact_location"]?.text ?? "",
            lifecycleStage: LifecycleStage(rawValue: value["lifecycle_stage"]?.text ?? "") ?? .active,
            creationTime: value["creation_time"]?.int64 ?? 0,
            lastUpdateTime: value["last_update_time"]?.int64 ?? 0, tags: pairs(value["tags"])
        )
    }

    /// A point from `{value, timestamp, step}`, with NaN and the infinities spelled as MLflow spells them.
    public static func point(from value: JSONValue) throws(LedgerError) -> MetricPoint {
        let number: Double
        switch value["value"] {
        case .integer(let integer)?: number = Double(integer)
        case .number(let double)?: number = double
        case .string("NaN")?: number = .nan
        case .string("Infinity")?: number = .infinity
        case .string("-Infinity")?: number = -.infinity
        default: throw unexpected("a metric", value)
        }
        return MetricPoint(value: number, timestamp: value["timestamp"]?.int64 ?? 0, step: value["step"]?.int64 ?? 0)
    }

    public static func run(from value: JSONValue?) throws(LedgerError) -> Run {
        guard let info = value?["info"], let runID = info["run_id"]?.text.flatMap(RunID.init),
            let experimentID = info["experiment_id"]?.text.flatMap(ExperimentID.init), let status = info["status"]?.text.flatMap(RunStatus.init)
        else { throw unexpected("a run", value ?? .null) }
        var latest: [String: MetricPoint] = [:]
        if case .array(let metrics)? = value?["data"]?["metrics"] {
            for metric in metrics { if let key = metric["key"]?.text { latest[key] = try point(from: metric) } }
        }
        return Run(
            info: RunInfo(
                runID: runID, experimentID: experimentID, name: info["run_name"]?.text ?? "", status: status,
                startTime: info["start_time"]?.int64 ?? 0,
                endTime: info["end_time"]?.int64, lifecycleStage: LifecycleStage(rawValue: info["lifecycle_stage"]?.text ?? "") ?? .active,
                userID: info["user_id"]?.text ?? "", artifactURI: info["artifact_uri"]?.text ?? ""
            ),
            params: pairs(value?["data"]?["params"]), tags: pairs(value?["data"]?["tags"]), latestMetrics: latest
        )
    }
}

// MARK: Logged models and run inputs/outputs

extension MLflowJSON {
    /// A run with its inputs and outputs, as `runs/get` answers in MLflow 3.
    public static func run(_ run: Run, io: RunIO) -> JSONValue {
        guard case .object(var members) = self.run(run) else { return self.run(run) }
        members.removeAll { $0.0 == "inputs" }
        members.append(("inputs", inputs(io)))
        members.append(("outputs", .object(io.outputs.isEmpty ? [] : [("model_outputs", .array(io.outputs.map(output)))])))
        return .object(members)
    }

    static func inputs(_ io: RunIO) -> JSONValue {
        var members: [(String, JSONValue)] = []
        if !io.datasets.isEmpty { members.append(("dataset_inputs", .array(io.datasets.map(datasetInput)))) }
        if !io.modelInputs.isEmpty { members.append(("model_inputs", .array(io.modelInputs.map { .object([("model_id", .string($0))]) }))) }
        return .object(members)
    }

    static func output(_ output: RunModelOutput) -> JSONValue {
        .object([("model_id", .string(output.modelID)), ("step", .integer(output.step))])
    }

    /// MLflow's `DatasetInput`.
    public static func datasetInput(_ input: DatasetInput) -> JSONValue {
        var dataset: [(String, JSONValue)] = [
            ("name", .string(input.name)), ("digest", .string(input.digest)), ("source_type", .string(input.sourceType)),
            ("source", .string(input.source)),
        ]
        if let schema = input.schema { dataset.append(("schema", .string(schema))) }
        if let profile = input.profile { dataset.append(("profile", .string(profile))) }
        return .object([("tags", keyValues(input.tags)), ("dataset", .object(dataset))])
    }

    /// MLflow's `LoggedModel`: `{info, data}`.
    public static func loggedModel(_ model: LoggedModel) -> JSONValue {
        var info: [(String, JSONValue)] = [
            ("model_id", .string(model.id)), ("experiment_id", .string(model.experimentID.description)), ("name", .string(model.name)),
            ("creation_timestamp_ms", .integer(model.creationTime)), ("last_updated_timestamp_ms", .integer(model.lastUpdateTime)),
            ("artifact_uri", .string(model.artifactURI)), ("status", .string(model.status.rawValue)), ("model_type", .string(model.modelType)),
        ]
        if let run = model.sourceRunID { info.append(("source_run_id", .string(run.rawValue))) }
        if !model.statusMessage.isEmpty { info.append(("status_message", .string(model.statusMessage))) }
        if !model.tags.isEmpty { info.append(("tags", keyValues(model.tags))) }
        // Not in MLflow's message (its clients ignore unknown fields): a deleted model read with allow_deleted says so.
        if model.lifecycle == .deleted { info.append(("lifecycle_stage", .string(model.lifecycle.rawValue))) }
        var data: [(String, JSONValue)] = []
        if !model.params.isEmpty { data.append(("params", keyValues(model.params))) }
        return .object([("info", .object(info)), ("data", .object(data))])
    }

    /// The pairs of `[{key, value}]` in order (duplicates kept).
    public static func keyValueList(_ value: JSONValue?) -> [KeyValue] {
        guard case .array(let items)? = value else { return [] }
        return items.compactMap { item in item["key"]?.text.map { KeyValue($0, item["value"]?.text ?? "") } }
    }

    /// A model from MLflow's JSON.
    public static func loggedModel(from value: JSONValue?) throws(LedgerError) -> LoggedModel {
        guard let info = value?["info"], let id = info["model_id"]?.text, let experimentID = info["experiment_id"]?.text.flatMap(ExperimentID.init)
        else { throw unexpected("a logged model", value ?? .null) }
        return LoggedModel(
            id: id, experimentID: experimentID, name: info["name"]?.text ?? "", creationTime: info["creation_timestamp_ms"]?.int64 ?? 0,
            lastUpdateTime: info["last_updated_timestamp_ms"]?.int64 ?? 0, artifactURI: info["artifact_uri"]?.text ?? "",
            status: (try? LoggedModelStatus.parse(info["status"]?.text ?? "")) ?? .pending, statusMessage: info["status_message"]?.text ?? "",
            modelType: info["model_type"]?.text ?? "", sourceRunID: info["source_run_id"]?.text.flatMap(RunID.init),
            lifecycle: LifecycleStage(rawValue: info["lifecycle_stage"]?.text ?? "") ?? .active, tags: pairs(info["tags"]),
            params: pairs(value?["data"]?["params"])
        )
    }

    /// A run's inputs and outputs from a `runs/get` answer's run.
    public static func runIO(from run: JSONValue?) -> RunIO {
        var io = RunIO()
        if case .array(let items)? = run?["inputs"]?["dataset_inputs"] {
            io.datasets = items.compactMap { item in
                guard let dataset = item["dataset"], let name = dataset["name"]?.text else { return nil }
                return DatasetInput(
                    name: name, digest: dataset["digest"]?.text ?? "", sourceType: dataset["source_type"]?.text ?? "",
                    source: dataset["source"]?.text ?? "", schema: dataset["schema"]?.text, profile: dataset["profile"]?.text,
                    tags: keyValueList(item["tags"]))
            }
        }
        if case .array(let items)? = run?["inputs"]?["model_inputs"] { io.modelInputs = items.compactMap { $0["model_id"]?.text } }
        if case .array(let items)? = run?["outputs"]?["model_outputs"] {
            io.outputs = items.compactMap { item in item["model_id"]?.text.map { RunModelOutput(modelID: $0, step: item["step"]?.int64 ?? 0) } }
        }
        return io
    }
}
