import ArgumentParser
import EnergySimulation
import Foundation
import LedgerCore

extension RunLedgerCommand {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fill a database with a realistic energy-system design study.",
            discussion: """
                Simulates N designs (solver type, battery, PV, wind, grid limit, tariff) hour by hour and records each as a run \
                with its parameters, tags, hourly metrics (soc, grid_import_kw, pv_kw, wind_kw, demand_kw) and eight KPIs \
                (total_cost, total_co2, renewable_fraction, …). A few runs fail, with a failure_reason tag. The same seed \
                gives the same study.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Option(help: "How many designs to simulate.") var runs = 500
        @Option(help: "The random seed; the same seed gives the same study.") var seed: UInt64 = 42
        @Option(help: "Simulated hours per design (each becomes one step of the hourly metrics).") var steps = 168
        @Option(help: "The experiment to record the study in.") var experiment = "energy-design-study"

        func validate() throws {
            guard runs > 0 else { throw ValidationError("Please ask for at least one run (--runs 1 or more).") }
            guard (1...100_000).contains(steps) else { throw ValidationError("Please give --steps between 1 and 100000.") }
        }

        func run() async throws {
            try await reportingErrors {
                try await database.writing { store in
                    let started = Date()
                    let target: Experiment
                    if let existing = try await store.experiment(named: experiment) {
                        let count = try await store.experiments(view: .all).first { $0.experiment.id == existing.id }?.runCount ?? 0
                        guard count == 0 else {
                            throw LedgerError(
                                .resourceAlreadyExists,
                                "Experiment '\(experiment)' already has \(count) runs in \(try database.location). "
                                    + "Pass --experiment with a new name or --database with a new file."
                            )
                        }
                        target = existing
                    } else {
                        target = try await store.createExperiment(
                            name: experiment, artifactLocation: nil,
                            tags: [KeyValue("kind", "design-study"), KeyValue("model", "hourly-energy-balance")]
                        )
                    }
                    var study = StudyWriter(experimentID: target.id, seed: seed, steps: steps)
                    var progress = ProgressBar(total: runs, label: "Simulating")
                    let runsPerTransaction = 25
                    var written = 0
                    while written < runs {
                        let count = min(runsPerTransaction, runs - written)
                        let batch = WriteBatch((written..<written + count).flatMap { study.operations(forRun: $0) })
                        _ = try await store.write(batch)
                        written += count
                        progress.update(written)
                    }
                    progress.finish()
                    let seconds = Date().timeIntervalSince(started)
                    print(
                        "Recorded \(runs) runs (\(runs - study.failed) finished, \(study.failed) failed) with \(study.points) metric points "
                            + "in experiment '\(experiment)' of \(try database.location) in \(String(format: "%.1f", seconds)) s."
                    )
                    print(
                        "Try: runledger runs search --experiment \(experiment) --filter \"params.solver_type = 'hybrid'\" --order-by \"metrics.total_cost ASC\" --limit 5"
                    )
                }
            }
        }
    }
}

/// Turns simulated designs into write operations; deterministic for a seed.
struct StudyWriter {
    let experimentID: ExperimentID
    let steps: Int
    private var study: Study
    private(set) var failed = 0
    private(set) var points = 0
    /// A fixed epoch (2026-01-05 00:00 UTC) so that the same seed gives the same timestamps.
    private let epoch: Int64 = 1_767_571_200_000

    init(experimentID: ExperimentID, seed: UInt64, steps: Int) {
        self.experimentID = experimentID
        self.steps = steps
        self.study = Study(seed: seed, steps: steps)
    }

    mutating func operations(forRun index: Int) -> [WriteOperation] {
        let run = study.next()
        let runID = RunID(run.identifier)!
        let start = epoch + Int64(index) * 120_000
        var metrics: [Metric] = []
        metrics.reserveCapacity(run.loggedHours.count * 5 + kpiNames.count)
        for point in run.loggedHours {
            let timestamp = start + Int64(point.hour) * 100
            for (key, value) in StudyRun.metrics(of: point) {
                metrics.append(Metric(key: key, value: value, timestamp: timestamp, step: Int64(point.hour)))
            }
        }
        let end = start + Int64(steps) * 100 + 500
        if run.failure == nil {
            for key in kpiNames { metrics.append(Metric(key: key, value: run.result.kpis[key]!, timestamp: end, step: 0)) }
        } else {
            failed += 1
        }
        points += metrics.count
        return [
            .createRun(NewRun(runID: runID, experimentID: experimentID, name: run.name, status: .running, startTime: start, userID: "demo")),
            .logParams(runID, run.design.parameters.map { KeyValue($0.0, $0.1) }),
            .setTags(runID, run.tags.map { KeyValue($0.0, $0.1) } + [KeyValue("mlflow.runName", run.name)]),
            .logMetrics(runID, metrics),
            .updateRun(runID, RunUpdate(status: run.failure == nil ? .finished : .failed, endTime: end)),
        ]
    }
}
