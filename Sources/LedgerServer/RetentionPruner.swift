public import LedgerCore
public import Logging
public import ServiceLifecycle

/// Applies the stored retention policies every `interval`, in passes of at most `budget` points, each its own short
/// transaction with a yield in between, so that pruning never stalls ingestion. Several servers on one database may
/// all prune: a pass removes only what is still there.
public struct RetentionPruner: Service {
    let store: any TrackingStore
    let interval: Duration
    let budget: Int
    let logger: Logger
    let clock: @Sendable () -> Int64

    public init(
        store: any TrackingStore, interval: Duration, budget: Int = 5000, logger: Logger, clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds
    ) {
        self.store = store
        self.interval = interval
        self.budget = budget
        self.logger = logger
        self.clock = clock
    }

    /// One round over every policy; a failure is logged and the next round tries again. Returns what went.
    @discardableResult
    public func pruneOnce() async -> (points: Int, events: Int) {
        do {
            let report = try await store.pruneAll(now: clock(), budget: budget)
            let points = report.reduce(0) { $0 + $1.1.points }, events = report.reduce(0) { $0 + $1.1.events }
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
