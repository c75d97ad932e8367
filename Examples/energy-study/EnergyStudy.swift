// An energy-system design study that records every design through the RunLedger SDK: the way to integrate a
// simulation. Each design is one run (RUNNING before it starts, FINISHED or FAILED at the end) with its parameters,
// five metrics per simulated hour and eight KPIs. Copy this file to start your own.
import ArgumentParser
import EnergySimulation
import Foundation
import LedgerConnect
import LedgerCore
import RunLedger

struct SimulationFailed: Error, CustomStringConvertible {
    var description: String
}

@main
struct EnergyStudy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "energy-study",
        abstract: "Simulate energy-system designs and record each as a run through the RunLedger SDK.",
        discussion: """
            At exit it prints one JSON object: {runs, points_logged, seconds, points_per_second, spooled, replayed, rejected, dropped, \
            lost, lost_records, pending}. 'pending' counts items still in the spool because the database stayed unavailable for \
            --close-timeout after the last run: they are safe and arrive with the next run on the same --spool folder, or with \
            'runledger spool replay'. The exit status is 1 when anything was lost (dropped points, items the spool could not keep, or corrupt spool records).
            """
    )

    @Option(help: "Where to record: a SQLite file path, a postgres:// URL, or a RunLedger server's http://HOST:PORT (token in $RUNLEDGER_TOKEN).")
    var database = "runledger.sqlite"
    @Option(help: "How many designs to simulate.") var runs = 20
    @Option(help: "Simulated hours per design.") var steps = 168
    @Option(help: "The random seed; the same seed gives the same designs.") var seed: UInt64 = 1
    @Option(help: "The spool folder, used while the database is unavailable.") var spool = ".runledger-spool"
    @Option(help: "Designs simulated in parallel.") var workers = 2
    @Option(help: "The experiment to record into (created if missing).") var experiment = "energy-study"
    @Option(help: "Microseconds of extra work per simulated hour, to mimic a heavier model.") var workMicroseconds = 0
    @Option(help: "Seconds to keep replaying the spool at exit while the database is unavailable.") var closeTimeout = 30

    func validate() throws {
        guard runs > 0, steps > 0 else { throw ValidationError("Please give --runs and --steps of at least 1.") }
        guard workers > 0 else { throw ValidationError("Please give --workers of at least 1.") }
        guard closeTimeout >= 0 else { throw ValidationError("Please give --close-timeout of 0 seconds or more.") }
    }

    func run() async throws {
        let token = ProcessInfo.processInfo.environment["RUNLEDGER_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        var plan = Study(seed: seed, steps: steps)
        let designs = (0..<runs).map { _ in plan.next() }
        let started = ContinuousClock.now
        let configuration = LedgerConfiguration(spoolDirectory: URL(fileURLWithPath: spool), closeTimeout: .seconds(closeTimeout))
        let ledger = try await LedgerConnect.withStore(try DatabaseLocation(database), options: ConnectOptions(token: token)) { store in
            try await Ledger.withLedger(store: store, configuration: configuration) { ledger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, design) in designs.enumerated() {
                        if index >= workers { try await group.next() }
                        group.addTask { try? await record(design, in: ledger) }
                    }
                    try await group.waitForAll()
                }
                return ledger
            }
        }
        // Read after the ledger closed: the last batches are counted too.
        let statistics = ledger.statistics
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let points = designs.reduce(0) { $0 + $1.loggedHours.count * 5 + ($1.failure == nil ? kpiNames.count : 0) }
        print(
            JSONValue.object([
                ("runs", .integer(Int64(runs))), ("points_logged", .integer(Int64(points))), ("seconds", .number(seconds)),
                ("points_per_second", .number(Double(points) / seconds)), ("spooled", .integer(Int64(statistics.spooled))),
                ("replayed", .integer(Int64(statistics.replayed))), ("rejected", .integer(Int64(statistics.rejected))),
                ("dropped", .integer(Int64(statistics.dropped))),
                ("lost", .integer(Int64(statistics.lost))), ("lost_records", .integer(Int64(statistics.tornRecords))),
                ("pending", .integer(Int64(statistics.pending))),
            ])
        )
        for problem in ledger.problems.suffix(20) { FileHandle.standardError.write(Data("energy-study: \(problem)\n".utf8)) }
        if statistics.dropped > 0 || statistics.lost > 0 || statistics.tornRecords > 0 { throw ExitCode.failure }
    }

    /// One design as one run: params up front, hourly metrics while it runs, KPIs at the end; a failure ends it FAILED.
    func record(_ design: StudyRun, in ledger: Ledger) async throws {
        let params = Dictionary(uniqueKeysWithValues: design.design.parameters)
        let tags = Dictionary(uniqueKeysWithValues: design.tags.filter { $0.0 != "failure_reason" })
        try await ledger.withRun(experiment: experiment, name: design.name, params: params, tags: tags) { run in
            for point in design.loggedHours {
                if workMicroseconds > 0 { busyWait(microseconds: workMicroseconds) }
                for (key, value) in StudyRun.metrics(of: point) { run.log(key, value, step: Int64(point.hour)) }
            }
            if let failure = design.failure { throw SimulationFailed(description: failure) }
            run.setKPIs(design.result.kpis)
        }
    }
}

/// Spins for a while, standing in for the real model's work in one simulated hour.
func busyWait(microseconds: Int) {
    let end = ContinuousClock.now + .microseconds(microseconds)
    while ContinuousClock.now < end {}
}
