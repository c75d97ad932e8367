import Foundation
public import LedgerArtifacts
public import LedgerCore

/// Everything an MLflow tracking server holds, read through its REST API (so any MLflow backend works) and written
/// into a RunLedger store: experiments with tags and lifecycle, runs with their ids and every attribute, params, tags,
/// the full history of every metric, artifact files byte for byte, and logged models.
///
/// Idempotent and resumable: a run is written in one batch after its files, so a run in the target is complete, and
/// runs already there are skipped. An imported experiment carries the tag ``sourceTag`` naming where it came from;
/// a target experiment of the same name without it is a clash.
public struct MLflowImport: Sendable {
    /// The tag an imported experiment carries: `URL#EXPERIMENT_ID` of its source.
    public static let sourceTag = "runledger.imported_from"
    /// Points per `metrics/get-history` page.
    static let historyPage = 25_000

    public struct Options: Sendable {
        /// Experiment names to import; empty: all.
        public var experiments: [String] = []
        public var artifacts = true
        /// Prefixed to every imported experiment's name.
        public var renamePrefix: String?
        /// Hears what was left out and why (a run whose files the server does not serve).
        public var warn: @Sendable (String) -> Void

        public init(
            experiments: [String] = [], artifacts: Bool = true, renamePrefix: String? = nil, warn: @escaping @Sendable (String) -> Void = { _ in }
        ) {
            self.experiments = experiments
            self.artifacts = artifacts
            self.renamePrefix = renamePrefix
            self.warn = warn
        }
    }

    private let sourceURL: String
    private let source: RemoteStore
    private let sourceArtifacts: RemoteArtifactStore
    private let target: any TrackingStore
    private let targetArtifacts: (any ArtifactStore)?
    private let options: Options

    /// An import from the MLflow server at `url` into `target`, its files into `targetArtifacts` (nil: no files).
    public init(from url: String, token: String?, into target: any TrackingStore, artifacts targetArtifacts: (any ArtifactStore)?, options: Options)
        throws(LedgerError)
    {
        sourceURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        source = try RemoteStore(url: sourceURL, options: RemoteOptions(token: token, requestTimeout: .seconds(600)))
        sourceArtifacts = try RemoteArtifactStore(url: sourceURL, token: token)
        self.target = target
        self.targetArtifacts = options.artifacts ? targetArtifacts : nil
        self.options = options
    }

    /// Runs the import; `progress` hears each run as it is done (imported or skipped).
    public func run(progress: @Sendable (Int) -> Void = { _ in }) async throws -> TransferSummary {
        defer { Task { [source] in try? await source.close() } }
        var summary = TransferSummary()
        let experiments = try await chosenExperiments()
        // All clashes are found before anything is written.
        var plans: [(source: Experiment, target: Experiment?)] = []
        for experiment in experiments { plans.append((experiment, try await existingTarget(for: experiment))) }
        var done = 0
        for (experiment, existing) in plans {
            var destination: Experiment
            if let existing {
                destination = existing
            } else {
                destination = try await target.createExperiment(
                    name: targetName(experiment), artifactLocation: nil,
                    tags: experiment.tags.map { KeyValue($0.key, $0.value) } + [KeyValue(Self.sourceTag, marker(experiment))])
                summary.experiments += 1
            }
            let wasDeleted = destination.lifecycleStage == .deleted
            if wasDeleted { try await target.updateExperiment(id: destination.id, .setLifecycle(.active)) }
            var token: String?
            repeat {
                var body: [(String, JSONValue)] = [
                    ("experiment_ids", .array([.string(experiment.id.description)])), ("run_view_type", .string("ALL")),
                    ("max_results", .integer(1000)),
                ]
                if let token { body.append(("page_token", .string(token))) }
                let answer = try await source.mlflow(.POST, "runs/search", body)
                for item in answer["runs"]?.array ?? [] {
                    try await importRun(try MLflowJSON.run(from: item), into: destination, summary: &summary)
                    done += 1
                    progress(done)
                }
                token = answer["next_page_token"]?.text.flatMap { $0.isEmpty ? nil : $0 }
            } while token != nil
            try await importModels(of: experiment, into: destination, summary: &summary)
            if experiment.lifecycleStage == .deleted || wasDeleted { try await target.updateExperiment(id: destination.id, .setLifecycle(.deleted)) }
        }
        return summary
    }

    // MARK: Experiments

    private func chosenExperiments() async throws -> [Experiment] {
        var all: [Experiment] = []
        var token: String?
        repeat {
            var body: [(String, JSONValue)] = [("view_type", .string("ALL")), ("max_results", .integer(1000))]
            if let token { body.append(("page_token", .string(token))) }
            let answer = try await source.mlflow(.POST, "experiments/search", body)
            all += try (answer["experiments"]?.array ?? []).map { try MLflowJSON.experiment(from: $0) }
            token = answer["next_page_token"]?.text.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        guard !options.experiments.isEmpty else { return all.sorted { $0.id.description < $1.id.description } }
        return try options.experiments.map { name throws(LedgerError) in
            guard let found = all.first(where: { $0.name == name }) else {
                throw LedgerError(.resourceDoesNotExist, "The MLflow server at \(sourceURL) has no experiment named '\(name)'.")
            }
            return found
        }
    }

    private func marker(_ experiment: Experiment) -> String { "\(sourceURL)#\(experiment.id)" }

    private func targetName(_ experiment: Experiment) -> String { (options.renamePrefix ?? "") + experiment.name }

    /// The target experiment an earlier import of `experiment` made, nil when there is none; a clash otherwise.
    private func existingTarget(for experiment: Experiment) async throws -> Experiment? {
        let name = targetName(experiment)
        // MLflow's Default experiment goes into RunLedger's own unless a prefix renames it.
        if experiment.id == .defaultExperiment && options.renamePrefix == nil {
            let existing = try await target.experiment(id: .defaultExperiment)
            if existing.tags[Self.sourceTag] == nil {
                try await target.updateExperiment(id: .defaultExperiment, .setTag(KeyValue(Self.sourceTag, marker(experiment))))
            }
            return existing
        }
        guard let existing = try await target.experiment(named: name) else { return nil }
        guard existing.tags[Self.sourceTag] == marker(experiment) else {
            throw LedgerError(
                .resourceAlreadyExists,
                "An experiment named '\(name)' exists already and was not imported from \(marker(experiment)). Import with --rename-prefix P to bring it in as 'P\(experiment.name)'."
            )
        }
        return existing
    }

    // MARK: Runs

    private func importRun(_ run: Run, into experiment: Experiment, summary: inout TransferSummary) async throws {
        let runID = run.info.runID
        if let existing = try? await target.run(runID) {
            guard existing.info.experimentID == experiment.id else {
                throw LedgerError(
                    .resourceAlreadyExists,
                    "Run \(runID) exists in the target already, in another experiment (\(existing.info.experimentID)); it was not imported.")
            }
            // The one write after a run's batch: a lifecycle an interrupted import did not get to.
            if run.info.lifecycleStage == .deleted && existing.info.lifecycleStage != .deleted { try await target.setRunLifecycle(runID, .deleted) }
            summary.skippedRuns += 1
            return
        }
        if let targetArtifacts {
            if let folder = ArtifactPath(location: run.info.artifactURI),
                let destination = ArtifactPath(location: StoreRules.artifactURI(experimentLocation: experiment.artifactLocation, runID: runID))
            {
                try await copyFiles(from: folder, to: destination, into: targetArtifacts, summary: &summary)
            } else if !run.info.artifactURI.isEmpty {
                // Only files the server proxies (mlflow-artifacts:) can be read through its API.
                options.warn(
                    "Run \(runID): its files at \(run.info.artifactURI) are not served by the MLflow server's artifact API and were not imported.")
            }
        }
        var operations: [WriteOperation] = [
            .createRun(
                NewRun(
                    runID: runID, experimentID: experiment.id, name: run.info.name, status: .running, startTime: run.info.startTime,
                    userID: run.info.userID))
        ]
        let params = run.params.map { KeyValue($0.key, $0.value) }
        if !params.isEmpty { operations.append(.logParams(runID, params)) }
        let tags = run.tags.map { KeyValue($0.key, $0.value) }
        if !tags.isEmpty { operations.append(.setTags(runID, tags)) }
        for key in run.latestMetrics.keys.sorted() {
            let points = try await history(runID, key)
            summary.metricPoints += points.count
            operations.append(.logMetrics(runID, points.map { Metric(key: key, value: $0.value, timestamp: $0.timestamp, step: $0.step) }))
        }
        if run.info.status != .running {
            operations.append(.updateRun(runID, RunUpdate(status: run.info.status, endTime: run.info.endTime)))
        }
        _ = try await target.write(WriteBatch(operations))
        if run.info.lifecycleStage == .deleted { try await target.setRunLifecycle(runID, .deleted) }
        summary.runs += 1
        summary.params += params.count
        summary.tags += tags.count
    }

    /// Every point of one metric, page by page.
    private func history(_ runID: RunID, _ key: String) async throws -> [MetricPoint] {
        var points: [MetricPoint] = []
        var token: String?
        repeat {
            var query = [("run_id", runID.rawValue), ("metric_key", key), ("max_results", String(Self.historyPage))]
            if let token { query.append(("page_token", token)) }
            let answer = try await source.call(.GET, "/api/2.0/mlflow/metrics/get-history", query: query)
            points += try (answer["metrics"]?.array ?? []).map { try MLflowJSON.point(from: $0) }
            token = answer["next_page_token"]?.text.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return points
    }

    // MARK: Files and models

    private func copyFiles(from folder: ArtifactPath, to destination: ArtifactPath, into store: any ArtifactStore, summary: inout TransferSummary)
        async throws
    {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-import-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for file in try await sourceArtifacts.files(under: folder) {
            let relative = try ArtifactPath(validating: file.path)
            let size = try await sourceArtifacts.download(folder.appending(relative), to: scratch)
            _ = try await store.upload(file: scratch, to: destination.appending(relative))
            summary.artifacts += 1
            summary.artifactBytes += size
        }
    }

    private func importModels(of experiment: Experiment, into destination: Experiment, summary: inout TransferSummary) async throws {
        var token: String?
        repeat {
            var body: [(String, JSONValue)] = [("experiment_ids", .array([.string(experiment.id.description)])), ("max_results", .integer(100))]
            if let token { body.append(("page_token", .string(token))) }
            let answer: JSONValue
            do {
                answer = try await source.mlflow(.POST, "logged-models/search", body)
            } catch let error as LedgerError where error.code == .resourceDoesNotExist || error.code == .storeUnavailable {
                return  // An MLflow 2 server has no logged models.
            }
            for item in answer["models"]?.array ?? [] {
                let model = try MLflowJSON.loggedModel(from: item)
                if (try? await target.loggedModel(id: model.id, allowDeleted: true)) != nil { continue }
                if let targetArtifacts, let folder = ArtifactPath(location: model.artifactURI) {
                    let location = destination.artifactLocation + "/models/" + model.id + "/artifacts"
                    if let path = ArtifactPath(location: location) {
                        try await copyFiles(from: folder, to: path, into: targetArtifacts, summary: &summary)
                    }
                }
                _ = try await target.createLoggedModel(
                    NewLoggedModel(
                        id: model.id, experimentID: destination.id, name: model.name, modelType: model.modelType, sourceRunID: model.sourceRunID,
                        params: model.params.map { KeyValue($0.key, $0.value) }, tags: model.tags.map { KeyValue($0.key, $0.value) }))
                if model.status != .pending { _ = try await target.updateLoggedModel(id: model.id, .finalize(model.status)) }
            }
            token = answer["next_page_token"]?.text.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
    }
}
