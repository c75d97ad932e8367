import ArgumentParser
import Foundation
import LedgerCore
import LedgerExport
import LedgerRemote

/// `runledger import`: history from elsewhere.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bring history in: everything an MLflow server holds, or runs from a CSV file.",
        subcommands: [MLflowImportCommand.self, CSVImport.self]
    )

    struct MLflowImportCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mlflow",
            abstract: "Import everything a running MLflow tracking server holds, through its REST API.",
            discussion: """
                Reads experiments (tags, lifecycle), runs (ids, names, status, times, user, lifecycle, deleted runs \
                too), params, tags, the full history of every metric (paged), artifact files byte for byte through \
                the server's artifact API, and logged models. Any MLflow backend works, since only the API is read. \
                Run ids are kept; experiments get new ids, and MLflow's Default experiment goes into RunLedger's.

                Idempotent and resumable: each run is written whole (its files first, then one transaction), and \
                runs already in the database are skipped, so running the import again brings only what is missing \
                and says so in skipped_runs. An experiment whose name exists already and that was not imported \
                from the same server is refused, unless --rename-prefix P imports it as P<name>.

                Artifact files go to the database's artifact folder (--artifacts-destination; runledger-artifacts \
                beside a SQLite file by default). Only files the server proxies (runs whose artifact URI starts \
                with mlflow-artifacts:, the default of `mlflow server`) can be read through its API; for other runs \
                a warning on stderr names the run and its location. Prints one JSON object on stdout: {experiments, runs, params, \
                tags, metric_points, artifacts, artifact_bytes, skipped_runs}.

                Example:
                  runledger import mlflow --from http://mlflow.internal:5000 --experiment energy-design-study
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var artifactOptions: ArtifactOptions
        @Option(help: ArgumentHelp("The MLflow tracking server (token in $MLFLOW_TRACKING_TOKEN).", valueName: "url")) var from: String
        @Option(name: .customLong("experiment"), help: ArgumentHelp("An experiment to import (repeatable; default: all).", valueName: "name"))
        var experiments: [String] = []
        @Option(help: ArgumentHelp("Prefixed to every imported experiment's name.", valueName: "prefix")) var renamePrefix: String?
        @Flag(help: "Import the database records only, not the artifact files.") var noArtifacts = false

        func run() async throws {
            try await reportingErrors {
                if let renamePrefix { try Validation.checkExperimentName(renamePrefix + "x") }
                let token = ProcessInfo.processInfo.environment["MLFLOW_TRACKING_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
                let location = try database.location
                let summary = try await database.writing { store in
                    let importer = try MLflowImport(
                        from: from, token: token, into: store, artifacts: try artifactOptions.store(for: location, token: database.serverToken),
                        options: MLflowImport.Options(
                            experiments: experiments, artifacts: !noArtifacts, renamePrefix: renamePrefix,
                            warn: { writeStandardError("warning: \($0)\n") }))
                    let bar = TransferProgressBar(label: "Importing")
                    let summary = try await importer.run { bar.update("runs", $0) }
                    bar.finish()
                    return summary
                }
                try printSummary(summary)
            }
        }
    }

    struct CSVImport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "csv",
            abstract: "Import one run per row of a CSV file, in the columns `runledger export csv` writes.",
            discussion: """
                Columns: run_name, status, start_time, end_time (milliseconds since the epoch), user_id, \
                params.KEY, metrics.KEY (numbers; NaN, Infinity and -Infinity spelled out), tags.KEY. run_id, \
                experiment_id and lifecycle_stage are accepted and ignored: every row becomes a new run. An empty \
                cell means "not set"; a missing status means FINISHED, a missing start_time the time of the import. \
                Each metric becomes one point at step 0, timed at the run's end (else its start).

                The whole file is checked first and written in one transaction: a bad row is reported with its \
                line number and nothing of the file is written. The experiment is created if it does not exist.

                Prints one JSON object on stdout: {experiments, runs, params, tags, metric_points, artifacts, \
                artifact_bytes, skipped_runs}.

                Example:
                  runledger export csv --experiment energy-design-study --output runs.csv
                  runledger import csv --experiment energy-design-study-copy --file runs.csv
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Option(help: ArgumentHelp("The experiment to add the runs to (created if missing).", valueName: "name")) var experiment: String
        @Option(help: ArgumentHelp("The CSV file to read.", valueName: "file")) var file: String

        func run() async throws {
            try await reportingErrors {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw LedgerError(.invalidParameterValue, "Cannot read '\(file)': no such file, or not readable.")
                }
                guard let text = String(data: data, encoding: .utf8) else {
                    throw LedgerError(.invalidParameterValue, "'\(file)' is not UTF-8 text.")
                }
                let table = try RunImport(csv: text)
                try Validation.checkExperimentName(experiment)
                let summary = try await database.writing { store in
                    let existed = try await store.experiment(named: experiment) != nil
                    if !table.rows.isEmpty {
                        _ = try await store.write(table.batch(experimentName: experiment, now: Int64(Date().timeIntervalSince1970 * 1000)))
                    }
                    var summary = TransferSummary()
                    summary.experiments = existed || table.rows.isEmpty ? 0 : 1
                    summary.runs = table.rows.count
                    summary.params = table.rows.reduce(0) { $0 + $1.params.count }
                    summary.tags = table.rows.reduce(0) { $0 + $1.tags.count }
                    summary.metricPoints = table.rows.reduce(0) { $0 + $1.metrics.count }
                    return summary
                }
                try printSummary(summary)
            }
        }
    }
}
