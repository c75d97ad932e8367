import Hummingbird
import LedgerCore

/// RunLedger's routes for windowed reads, run events, retention and projects (state documents themselves are in
/// ``StateRoutes``, which speaks ETag and If-Match).
extension MLflowRoutes {
    var telemetryRoutes: [Route] {
        let prefixes = [Self.runLedgerPrefix]
        let runID = Parameter("run_id", .pattern("^[0-9a-fA-F]{32}$"))
        let name = [Parameter("name", .string, required: true)]
        let sample = Schema.object(
            [("run_id", .string), ("key", .string), ("value", .metricValue), ("timestamp", .integer), ("step", .integer)],
            required: ["run_id", "key", "value", "timestamp", "step"]
        )
        let event = Schema.object(
            [
                ("run_id", .string), ("sequence", .integer), ("timestamp", .integer), ("level", .enumeration(EventLevel.allCases.map(\.rawValue))),
                ("kind", .string),
                ("message", .string), ("payload", .any),
            ],
            required: ["run_id", "sequence", "timestamp", "level", "kind", "message"]
        )
        let policy = Schema.object(
            [
                ("id", .integer), ("experiment_id", .nullable(.string)), ("key_glob", .string), ("max_age_ms", .nullable(.integer)),
                ("max_points_per_key", .nullable(.integer)), ("created_at", .integer),
            ],
            required: ["id", "key_glob", "created_at"]
        )
        let project = Schema.object(
            [
                ("name", .string), ("created_at", .integer), ("last_active_at", .nullable(.integer)), ("archived", .boolean), ("documents", .integer),
                ("has_state", .boolean),
            ],
            required: ["name", "created_at", "archived", "documents", "has_state"]
        )
        let levels = Schema.enumeration(EventLevel.allCases.map(\.rawValue))
        let eventSelection = [
            Parameter("experiment_ids", .array(.string), required: true), Parameter("filter", .string),
            Parameter("run_view_type", .enumeration(ViewType.allCases.map(\.rawValue))), Parameter("kinds", .array(.string)),
            Parameter("min_level", levels), Parameter("start_time", .int64), Parameter("end_time", .int64),
        ]
        return [
            Route(
                .get, "metrics/window",
                "The newest points of some metric keys in a run (run_id) or across an experiment's active runs (experiment_id), optionally with a timestamp in [start_time, end_time); newest first.",
                writes: false,
                [
                    runID, Parameter("experiment_id", .pattern("^[0-9]+$")), Parameter("metric_keys", .array(.string), required: true),
                    Parameter("max_results", .int64), Parameter("start_time", .int64), Parameter("end_time", .int64),
                ],
                .object([("samples", .array(sample))], required: ["samples"]), prefixes: prefixes, metricWindow
            ),
            Route(
                .post, "runs/log-events", "Append events (timestamp, level, kind, message, payload) to a run's event log.", writes: true,
                [
                    runID,
                    Parameter(
                        "events",
                        .array(
                            .object(
                                [("timestamp", .int64), ("level", levels), ("kind", .string), ("message", .string), ("payload", .any)],
                                required: ["kind"])),
                        required: true
                    ),
                ],
                .object([]), prefixes: prefixes, logEvents
            ),
            Route(
                .get, "runs/events", "A run's events, newest first, by kind, minimum level and time.", writes: false,
                [
                    runID, Parameter("kinds", .array(.string)), Parameter("min_level", levels), Parameter("start_time", .int64),
                    Parameter("end_time", .int64),
                    Parameter("max_results", .int64),
                ],
                .object([("events", .array(event))], required: ["events"]), prefixes: prefixes, runEvents
            ),
            Route(
                .post, "events/search",
                "Events across the runs a filter matches in some experiments, newest first, by kinds, minimum level and time.",
                writes: false,
                eventSelection + [Parameter("max_results", .int64)],
                .object([("events", .array(event))], required: ["events"]), prefixes: prefixes, searchEvents
            ),
            Route(
                .post, "events/summary",
                "How many of those events fall in each time bucket (bucket: 90s, 15m, 1h, 1d or milliseconds; aligned to the epoch), per kind and level; at most 10000 rows.",
                writes: false,
                eventSelection + [Parameter("bucket", .string, required: true)],
                .object(
                    [
                        (
                            "counts",
                            .array(
                                .object(
                                    [("bucket_start", .int64), ("kind", .string), ("level", levels), ("count", .int64)],
                                    required: ["bucket_start", "kind", "level", "count"]))
                        )
                    ],
                    required: ["counts"]),
                prefixes: prefixes, eventSummary
            ),
            Route(
                .post, "state/query",
                "A project's state documents, by namespace; with where (a JSON-path condition such as $.phase == \"implementation\"), those it matches.",
                writes: false, [Parameter("project", .string, required: true), Parameter("where", .string)],
                .object(
                    [
                        (
                            "documents",
                            .array(
                                .object(
                                    [("project", .string), ("namespace", .string), ("version", .int64), ("updated_at", .int64), ("document", .any)],
                                    required: ["project", "namespace", "version", "updated_at", "document"]))
                        )
                    ],
                    required: ["documents"]),
                prefixes: prefixes
            ) { fields in
                let project = try fields.requiredString("project")
                let documents: [StateDocument]
                if let condition = try fields.string("where") {
                    documents = try await self.store.queryState(project: project, where: try StatePredicate(parsing: condition))
                } else {
                    documents = try await self.store.stateDocuments(project: project)
                }
                return .object([("documents", .array(documents.map(\.json)))])
            },
            Route(
                .get, "retention/list", "The stored retention policies.", writes: false, [],
                .object([("policies", .array(policy))], required: ["policies"]),
                prefixes: prefixes, listPolicies
            ),
            Route(
                .post, "retention/create",
                "Store a retention policy: an experiment (or all), a key glob, a maximum age and/or points per run and key.",
                writes: true,
                [
                    Parameter("experiment_id", .pattern("^[0-9]+$")), Parameter("key_glob", .string), Parameter("max_age_ms", .int64),
                    Parameter("max_points_per_key", .int64),
                ],
                .object([("policy", policy)], required: ["policy"]), prefixes: prefixes, createPolicy
            ),
            Route(
                .post, "retention/delete", "Remove a retention policy.", writes: true, [Parameter("id", .int64, required: true)], .object([]),
                prefixes: prefixes, deletePolicy
            ),
            Route(
                .post, "retention/prune",
                "One bounded pass of a policy: removes at most budget points or events (or counts them with dry_run), going on from resume.",
                writes: true,
                [
                    Parameter("id", .int64, required: true), Parameter("budget", .int64), Parameter("dry_run", .boolean),
                    Parameter("resume", .string),
                    Parameter("now", .int64),
                ],
                .object([("points", .integer), ("events", .integer), ("resume", .string)], required: ["points", "events"]), prefixes: prefixes,
                prunePass
            ),
            Route(
                .get, "projects/list", "Every project with its last-active time and whether it holds state.", writes: false, [],
                .object([("projects", .array(project))], required: ["projects"]), prefixes: prefixes, listProjects
            ),
            Route(.post, "projects/create", "Create a project.", writes: true, name, .object([]), prefixes: prefixes) {
                try await self.changeProject($0, .create)
            },
            Route(
                .post, "projects/archive", "Archive a project (its state stays readable; writes are refused).", writes: true, name, .object([]),
                prefixes: prefixes
            ) {
                try await self.changeProject($0, .archive)
            },
            Route(
                .post, "projects/switch", "Make a project the active one: records the time and lifts an archive.", writes: true, name, .object([]),
                prefixes: prefixes
            ) {
                try await self.changeProject($0, .activate)
            },
            Route(.post, "projects/delete", "Delete a project and its documents.", writes: true, name, .object([]), prefixes: prefixes) {
                try await self.changeProject($0, .delete)
            },
        ]
    }

    @Sendable func metricWindow(_ fields: RequestFields) async throws -> JSONValue {
        let scope: MetricWindow.Scope
        switch (fields.has("run_id") || fields.has("run_uuid"), fields.has("experiment_id")) {
        case (true, false): scope = .run(try fields.runID())
        case (false, true): scope = .experiment(try fields.experimentID())
        default: throw APIError(.badRequest, "INVALID_PARAMETER_VALUE", "Give either run_id or experiment_id (one of them) to say where to read.")
        }
        let window = MetricWindow(
            scope: scope, keys: try fields.strings("metric_keys"), limit: Int(clamping: try fields.int64("max_results") ?? 1000),
            from: try fields.int64("start_time"), to: try fields.int64("end_time")
        )
        return .object([("samples", .array(try await store.metricWindow(window).map(\.json)))])
    }

    @Sendable func logEvents(_ fields: RequestFields) async throws -> JSONValue {
        let runID = try fields.runID()
        let now = clock()
        let events = try fields.objects("events").map { item in
            RunEvent(
                timestamp: try item.int64("timestamp") ?? now,
                level: try item.string("level").map { text throws(LedgerError) in try EventLevel.parse(text) } ?? .info,
                kind: try item.requiredString("kind"), message: try item.string("message") ?? "", payload: item.value("payload")?.description
            )
        }
        guard !events.isEmpty else { throw APIError.missing("events") }
        _ = try await store.write(WriteBatch([.logEvents(runID, events)]))
        return .object([])
    }

    @Sendable func runEvents(_ fields: RequestFields) async throws -> JSONValue {
        let query = EventQuery(
            runID: try fields.runID(), kinds: try fields.strings("kinds"),
            minimumLevel: try fields.string("min_level").map { text throws(LedgerError) in try EventLevel.parse(text) } ?? .debug,
            from: try fields.int64("start_time"), to: try fields.int64("end_time"), limit: Int(clamping: try fields.int64("max_results") ?? 1000)
        )
        return .object([("events", .array(try await store.runEvents(query).map(\.json)))])
    }

    /// The events an `events/search` or `events/summary` request selects.
    private func eventSearch(_ fields: RequestFields) throws -> EventSearch {
        var runs = try runQuery(fields)
        guard !runs.experimentIDs.isEmpty else { throw APIError.missing("experiment_ids") }
        // The runs' order and page do not apply to their events.
        (runs.orderBy, runs.maxResults, runs.pageToken) = ([], 1000, nil)
        return EventSearch(
            runs: runs, kinds: try fields.strings("kinds"),
            minimumLevel: try fields.string("min_level").map { text throws(LedgerError) in try EventLevel.parse(text) } ?? .debug,
            from: try fields.int64("start_time"), to: try fields.int64("end_time"), limit: Int(clamping: try fields.int64("max_results") ?? 1000)
        )
    }

    @Sendable func searchEvents(_ fields: RequestFields) async throws -> JSONValue {
        .object([("events", .array(try await store.searchEvents(try eventSearch(fields)).map(\.json)))])
    }

    @Sendable func eventSummary(_ fields: RequestFields) async throws -> JSONValue {
        let width = try BucketWidth.parse(try fields.requiredString("bucket"))
        return .object([("counts", .array(try await store.eventSummary(try eventSearch(fields), width: width).map(\.json)))])
    }

    @Sendable func listPolicies(_ fields: RequestFields) async throws -> JSONValue {
        .object([("policies", .array(try await store.retentionPolicies().map(\.json)))])
    }

    @Sendable func createPolicy(_ fields: RequestFields) async throws -> JSONValue {
        let policy = RetentionPolicy(
            experimentID: fields.has("experiment_id") ? try fields.experimentID() : nil, keyGlob: try fields.string("key_glob") ?? "*",
            maxAge: try fields.int64("max_age_ms"), maxPointsPerKey: try fields.int64("max_points_per_key").map { Int(clamping: $0) }
        )
        return .object([("policy", try await store.addRetentionPolicy(policy).json)])
    }

    @Sendable func deletePolicy(_ fields: RequestFields) async throws -> JSONValue {
        try await store.removeRetentionPolicy(id: try fields.requiredInt64("id"))
        return .object([])
    }

    @Sendable func prunePass(_ fields: RequestFields) async throws -> JSONValue {
        let id = try fields.requiredInt64("id")
        guard let policy = try await store.retentionPolicies().first(where: { $0.id == id }) else {
            throw APIError(.notFound, "RESOURCE_DOES_NOT_EXIST", "No retention policy with id \(id).")
        }
        let count = try await store.prune(
            policy, now: try fields.int64("now") ?? clock(), budget: Int(clamping: try fields.int64("budget") ?? 10_000),
            dryRun: try fields.bool("dry_run") ?? false,
            resume: try fields.string("resume")
        )
        var members: [(String, JSONValue)] = [("points", .integer(Int64(count.points))), ("events", .integer(Int64(count.events)))]
        if let resume = count.resume { members.append(("resume", .string(resume))) }
        return .object(members)
    }

    @Sendable func listProjects(_ fields: RequestFields) async throws -> JSONValue {
        .object([("projects", .array(try await store.projects().map(\.json)))])
    }

    func changeProject(_ fields: RequestFields, _ change: ProjectChange) async throws -> JSONValue {
        try await store.changeProject(try fields.requiredString("name"), change)
        return .object([])
    }
}
