import Foundation
public import LedgerCore

/// Windowed reads, events, retention and projects over RunLedger's own routes.
extension RemoteStore {
    private static let prefix = "/api/2.0/runledger/"

    public func metricWindow(_ window: MetricWindow) async throws -> [MetricSample] {
        try window.validate()
        var query: [(String, String)] = window.keys.map { ("metric_keys", $0) } + [("max_results", String(window.limit))]
        switch window.scope {
        case .run(let runID): query.append(("run_id", runID.rawValue))
        case .experiment(let id): query.append(("experiment_id", id.description))
        }
        if let from = window.from { query.append(("start_time", String(from))) }
        if let to = window.to { query.append(("end_time", String(to))) }
        let answer = try await call(.GET, Self.prefix + "metrics/window", query: query)
        return try list(answer, "samples", MetricSample.init(json:))
    }

    public func runEvents(_ query: EventQuery) async throws -> [StoredEvent] {
        try query.validate()
        var fields: [(String, String)] = [
            ("run_id", query.runID.rawValue), ("min_level", query.minimumLevel.rawValue), ("max_results", String(query.limit)),
        ]
        fields += query.kinds.map { ("kinds", $0) }
        if let from = query.from { fields.append(("start_time", String(from))) }
        if let to = query.to { fields.append(("end_time", String(to))) }
        return try list(try await call(.GET, Self.prefix + "runs/events", query: fields), "events", StoredEvent.init(json:))
    }

    public func searchEvents(_ search: EventSearch) async throws -> [StoredEvent] {
        try search.validate()
        let body = Self.eventSearchBody(search) + [("max_results", .integer(Int64(search.limit)))]
        return try list(try await call(.POST, Self.prefix + "events/search", body: .object(body)), "events", StoredEvent.init(json:))
    }

    public func eventSummary(_ search: EventSearch, width: Int64) async throws -> [EventCount] {
        try search.validate()
        try BucketWidth.check(width)
        let body = Self.eventSearchBody(search) + [("bucket", .string(String(width)))]
        return try list(try await call(.POST, Self.prefix + "events/summary", body: .object(body)), "counts", EventCount.init(json:))
    }

    /// Statistics computed by the server (`runs/statistics`), not from every run fetched here.
    public func statistics(_ query: RunQuery, metric: String, groupBy: GroupKey?) async throws -> [GroupSummary] {
        try query.validate()
        var body = Self.selectionBody(query) + [("metric", .string(metric))]
        if let groupBy { body.append(("group_by", .string(groupBy.description))) }
        return try list(try await call(.POST, Self.prefix + "runs/statistics", body: .object(body)), "groups", GroupSummary.init(json:))
    }

    /// Convergence computed by the server (`runs/trend`), not from every run fetched here.
    public func trend(_ query: RunQuery, metric: String, goal: Goal, groupBy: GroupKey?) async throws -> [TrendPoint] {
        try query.validate()
        var body = Self.selectionBody(query) + [("metric", .string(metric)), ("goal", .string(goal.rawValue))]
        if let groupBy { body.append(("group_by", .string(groupBy.description))) }
        return try list(try await call(.POST, Self.prefix + "runs/trend", body: .object(body)), "points", TrendPoint.init(json:))
    }

    public func aggregate(_ aggregation: MetricAggregation) async throws -> [AggregateRow] {
        try aggregation.validate()
        var body =
            Self.selectionBody(aggregation.runs) + [
                ("metrics", .array(aggregation.metrics.map(JSONValue.string))), ("bucket", .string(aggregation.bucketing.description)),
            ]
        if let groupBy = aggregation.groupBy { body.append(("group_by", .string(groupBy.description))) }
        if let since = aggregation.since { body.append(("since", .integer(since))) }
        if let until = aggregation.until { body.append(("until", .integer(until))) }
        return try list(try await call(.POST, Self.prefix + "metrics/aggregate", body: .object(body)), "buckets", AggregateRow.init(json:))
    }

    /// The fields of RunLedger's routes that select runs: experiments, filter and view.
    private static func selectionBody(_ runs: RunQuery) -> [(String, JSONValue)] {
        [
            ("experiment_ids", .array(runs.experimentIDs.map { .string($0.description) })), ("filter", .string(runs.filter.description)),
            ("run_view_type", .string(runs.view.rawValue)),
        ]
    }

    /// The fields of `events/search` and `events/summary` that select events.
    private static func eventSearchBody(_ search: EventSearch) -> [(String, JSONValue)] {
        var body =
            selectionBody(search.runs) + [
                ("kinds", .array(search.kinds.map(JSONValue.string))), ("min_level", .string(search.minimumLevel.rawValue)),
            ]
        if let from = search.from { body.append(("start_time", .integer(from))) }
        if let to = search.to { body.append(("end_time", .integer(to))) }
        return body
    }

    public func retentionPolicies() async throws -> [RetentionPolicy] {
        try list(try await call(.GET, Self.prefix + "retention/list"), "policies", RetentionPolicy.init(json:))
    }

    public func addRetentionPolicy(_ policy: RetentionPolicy) async throws -> RetentionPolicy {
        try policy.validate()
        var body: [(String, JSONValue)] = [("key_glob", .string(policy.keyGlob))]
        if let experiment = policy.experimentID { body.append(("experiment_id", .string(experiment.description))) }
        if let age = policy.maxAge { body.append(("max_age_ms", .integer(age))) }
        if let points = policy.maxPointsPerKey { body.append(("max_points_per_key", .integer(Int64(points)))) }
        let answer = try await call(.POST, Self.prefix + "retention/create", body: .object(body))
        guard let stored = answer["policy"] else { throw MLflowJSON.unexpected("retention/create", answer) }
        return try RetentionPolicy(json: stored)
    }

    public func removeRetentionPolicy(id: Int64) async throws {
        _ = try await call(.POST, Self.prefix + "retention/delete", body: .object([("id", .integer(id))]))
    }

    public func prune(_ policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, resume: String?) async throws -> PruneCount {
        var body: [(String, JSONValue)] = [
            ("id", .integer(policy.id)), ("now", .integer(now)), ("budget", .integer(Int64(budget))), ("dry_run", .bool(dryRun)),
        ]
        if let resume { body.append(("resume", .string(resume))) }
        let answer = try await call(.POST, Self.prefix + "retention/prune", body: .object(body))
        return PruneCount(points: Int(answer["points"]?.int64 ?? 0), events: Int(answer["events"]?.int64 ?? 0), resume: answer["resume"]?.text)
    }

    public func projects() async throws -> [Project] {
        try list(try await call(.GET, Self.prefix + "projects/list"), "projects", Project.init(json:))
    }

    public func changeProject(_ name: String, _ change: ProjectChange) async throws {
        let route =
            switch change {
            case .create: "create"
            case .archive: "archive"
            case .activate: "switch"
            case .delete: "delete"
            }
        _ = try await call(.POST, Self.prefix + "projects/" + route, body: .object([("name", .string(name))]))
    }

    public func stateDocuments(project: String) async throws -> [StateDocument] {
        try Validation.checkStateName(project, kind: "project name")
        let answer = try await call(.POST, Self.prefix + "state/query", body: .object([("project", .string(project))]))
        return try list(answer, "documents", StateDocument.init(json:))
    }

    public func stateDocument(project: String, namespace: String) async throws -> StateDocument? {
        do {
            return try StateDocument(json: try await call(.GET, try Self.statePath(project, namespace)))
        } catch let error as LedgerError where error.code == .resourceDoesNotExist && error != LedgerError.unknownProject(project) {
            // A 404 for a known project is a namespace without a document yet; for an unknown one, the error stands.
            return nil
        }
    }

    public func putStateDocument(project: String, namespace: String, document: String, expectedVersion: Int64?) async throws -> StateDocument {
        try Validation.checkStateDocument(document)
        try Validation.checkExpectedVersion(expectedVersion)
        let headers: [(String, String)] =
            switch expectedVersion {
            case nil: []
            case 0?: [("If-None-Match", "*")]
            case let version?: [("If-Match", "\"\(version)\"")]
            }
        let body = JSONValue.object([("document", try JSONValue(parsing: document.utf8))])
        return try StateDocument(json: try await call(.PUT, try Self.statePath(project, namespace), body: body, headers: headers))
    }

    private static func statePath(_ project: String, _ namespace: String) throws(LedgerError) -> String {
        try Validation.checkStateName(project, kind: "project name")
        try Validation.checkStateName(namespace, kind: "namespace")
        return prefix + "projects/\(project)/state/\(namespace)"
    }

    private func list<T>(_ answer: JSONValue, _ member: String, _ read: (JSONValue) throws(LedgerError) -> T) throws -> [T] {
        guard case .array(let items)? = answer[member] else { throw MLflowJSON.unexpected(member, answer) }
        return try items.map { item throws(LedgerError) in try read(item) }
    }
}
