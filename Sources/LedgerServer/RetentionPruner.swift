public import LedgerCore
public import Logging
public import ServiceLifecycle

/// Applies the stored retention policies every `interval`, in passes of at most `budget` points, each its own short
/// transaction, resting `restFactor` times as long as a pass took before the next one: pruning takes at most about
/// 1 / (1 + restFactor) of the database's writing time (20 % by default), so that ingestion keeps the rest. Several
/// servers on one database may all prune: a pass removes only what is still there.
public struct RetentionPruner: Service {
    let store: any TrackingStore
    let interval: Duration
    let budget: Int
    let restFactor: Double
    let logger: Logger
    let clock: @Sendable () -> Int64

    public init(
        store: any TrackingStore, interval: Duration, budget: Int = 5000, restFactor: Double = 4, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds
    ) {
        self.store = store
        self.interval = interval
        self.budget = budget
        self.restFactor = restFactor
        self.logger = logger
        self.clock = clock
    }

    /// One round over every policy; a failure is logged and the next round tries again. Returns what went.
    @discardableResult
    public func pruneOnce() async -> (points: Int, events: Int) {
        do {
            let rest = restFactor
            let report = try await store.pruneAll(now: clock(), budget: budget) { took in try? await Task.sleep(for: took * rest) }
            let points = report.reduce(0) { $0 + $1.1.points }
            let events = report.reduce(0) { $0 + $1.1.events }
            if points + events > 0 { logger.info("pruned by retention policies", metadata: ["points": "\(points)", "events": "\(events)"]) }
            return (points, events)
        } catch {
            logger.warning("pruning failed; will retry", metadata: ["error": "\(error)"])
            return (0, 0)
        }
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval) { await pruneOnce() }
    }
}
