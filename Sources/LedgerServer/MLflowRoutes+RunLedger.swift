import Foundation
import Hummingbird
import LedgerCore

/// RunLedger's extension routes under `/api/2.0/runledger/`, in MLflow's conventions: what RunLedger's own remote
/// client needs beyond MLflow's API (exactly-once batches, listings with run counts, reaping).
extension MLflowRoutes {
    static let runLedgerPrefix = "/api/2.0/runledger/"

    var runLedgerRoutes: [Route] {
        let prefixes = [Self.runLedgerPrefix]
        return [
            Route(
                .post, "batches", "Apply a write batch (RunLedger's binary encoding, base64) in one transaction, at most once per batch id.",
                writes: true, [Parameter("batch", .string, required: true)],
                .object([("outcome", .enumeration(["applied", "already_applied"]))], required: ["outcome"]), prefixes: prefixes, writeBatch
            ),
            Route(
                .get, "experiments/list", "Experiments in a view with their run counts and latest run start.", writes: false,
                [Parameter("view_type", .enumeration(ViewType.allCases.map(\.rawValue)))],
                .object(
                    [
                        (
                            "experiments",
                            .array(.object([("experiment", .reference("Experiment")), ("run_count", .integer), ("last_run_start_time", .integer)], required: ["experiment", "run_count"]))
                        )
                    ],
                    required: ["experiments"]
                ),
                prefixes: prefixes, listExperiments
            ),
            Route(
                .post, "experiments/delete-tag", "Delete an experiment tag.", writes: true,
                [Parameter("experiment_id", .pattern("^[0-9]+$"), required: true), Parameter("key", .string, required: true)], .object([]),
                prefixes: prefixes, deleteExperimentTag
            ),
            Route(
                .post, "runs/reap", "Mark RUNNING runs whose heartbeat is older than heartbeat_before as KILLED, ending them at end_time.",
                writes: true, [Parameter("heartbeat_before", .int64, required: true), Parameter("end_time", .int64)],
                .object([("run_ids", .array(.string))], required: ["run_ids"]), prefixes: prefixes, reapRuns
            ),
        ]
    }

    @Sendable func writeBatch(_ fields: RequestFields) async throws -> JSONValue {
        let text = try fields.requiredString("batch")
        guard let data = Data(base64Encoded: text) else {
            throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "The batch is not base64: send RunLedger's binary batch encoding, base64-encoded.")
        }
        let batch = try WriteBatch(decoding: [UInt8](data))
        let outcome = try await store.write(batch)
        return .object([("outcome", .string(outcome == .applied ? "applied" : "already_applied"))])
    }

    @Sendable func listExperiments(_ fields: RequestFields) async throws -> JSONValue {
        let view = try fields.string("view_type").map { text in
            guard let view = ViewType(rawValue: text.uppercased()) else {
                throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "Invalid view_type '\(text.prefix(100))': valid values are ACTIVE_ONLY, DELETED_ONLY and ALL.")
            }
            return view
        } ?? .activeOnly
        let summaries = try await store.experiments(view: view)
        return .object([
            (
                "experiments",
                .array(
                    summaries.map { summary in
                        var members: [(String, JSONValue)] = [("experiment", MLflowJSON.experiment(summary.experiment)), ("run_count", .integer(Int64(summary.runCount)))]
                        if let last = summary.lastRunStartTime { members.append(("last_run_start_time", .integer(last))) }
                        return .object(members)
                    }
                )
            )
        ])
    }

    @Sendable func deleteExperimentTag(_ fields: RequestFields) async throws -> JSONValue {
        try await store.updateExperiment(id: try fields.experimentID(), .deleteTag(try fields.requiredString("key")))
        return .object([])
    }

    @Sendable func reapRuns(_ fields: RequestFields) async throws -> JSONValue {
        let before = try fields.requiredInt64("heartbeat_before")
        let reaped = try await store.reapRuns(heartbeatBefore: before, endTime: try fields.int64("end_time") ?? clock())
        return .object([("run_ids", .array(reaped.map { .string($0.rawValue) }))])
    }
}
