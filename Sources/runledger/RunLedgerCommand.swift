import ArgumentParser

@main
struct RunLedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runledger",
        abstract: "Record, query and export simulation runs.",
        discussion: """
            Every command works on a RunLedger database: --database PATH, or the RUNLEDGER_DATABASE environment \
            variable, or ./runledger.sqlite. New here? `runledger demo` fills a database with an energy-system \
            design study; then try `runledger runs search --experiment energy-design-study --order-by "metrics.total_cost ASC" --limit 5`.
            """,
        version: "0.1.0",
        subcommands: [
            Serve.self, Demo.self, Experiments.self, Runs.self, Metrics.self, Events.self, Stats.self, Pareto.self, Trend.self, Aggregate.self,
            Export.self,
            Retention.self,
            Prune.self,
            Projects.self, State.self, Migrate.self, SpoolCommand.self, ArtifactsCommand.self, GarbageCollect.self,
            CopyCommand.self, BackupCommand.self, RestoreCommand.self, ImportCommand.self,
        ]
    )
}
