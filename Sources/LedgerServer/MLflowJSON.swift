import LedgerCore

/// MLflow's JSON shapes for RunLedger's values (protobuf JSON with MLflow's field names; int64 as numbers).
enum MLflowJSON {
    static func keyValues(_ pairs: [String: String]) -> JSONValue {
        .array(pairs.sorted { $0.key < $1.key }.map { .object([("key", .string($0.key)), ("value", .string($0.value))]) })
    }

    static func experiment(_ experiment: Experiment) -> JSONValue {
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

    static func runInfo(_ info: RunInfo) -> JSONValue {
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

    static func groupStatistics(_ row: GroupSummary) -> JSONValue {
        let s = row.summary
        return .object([
            ("group", row.group.map(JSONValue.string) ?? .null), ("count", .integer(Int64(s.count))), ("mean", .number(s.mean)),
            ("stddev", .number(s.stddev)),
            ("min", .number(s.min)), ("max", .number(s.max)), ("p50", .number(s.p50)), ("p90", .number(s.p90)), ("p99", .number(s.p99)),
        ])
    }

    static func metric(key: String, _ point: MetricPoint) -> JSONValue {
        .object([("key", .string(key)), ("value", .number(point.value)), ("timestamp", .integer(point.timestamp)), ("step", .integer(point.step))])
    }

    static func run(_ run: Run) -> JSONValue {
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
}
