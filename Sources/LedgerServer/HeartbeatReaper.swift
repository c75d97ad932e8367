public import LedgerCore
public import Logging
public import ServiceLifecycle

/// Marks RUNNING runs whose heartbeat stopped as KILLED, every `interval`, so that a crashed simulation does not
/// leave its run RUNNING forever. Several servers on one database may all reap: the update is idempotent.
public struct HeartbeatReaper: Service {
    let store: any TrackingStore
    let timeout: Duration
    let interval: Duration
    let logger: Logger
    let clock: @Sendable () -> Int64

    /// A reaper that kills runs silent for longer than `timeout`, checking every `interval`.
    public init(
        store: any TrackingStore, timeout: Duration, interval: Duration = .seconds(30), logger: Logger,
        clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds
    ) {
        self.store = store
        self.timeout = timeout
        self.interval = interval
        self.logger = logger
        self.clock = clock
    }

    /// One pass: marks the runs silent for longer than the timeout KILLED and returns their ids; a store that fails is
    /// logged and tried again on the next pass.
    @discardableResult
    public func reapOnce() async -> [RunID] {
        let now = clock()
        do {
            let reaped = try await store.reapRuns(heartbeatBefore: now - Int64(timeout / .milliseconds(1)), endTime: now)
            if !reaped.isEmpty { logger.info("marked runs KILLED after their heartbeat stopped", metadata: ["count": "\(reaped.count)"]) }
            return reaped
        } catch {
            logger.warning("reaping runs failed; will retry", metadata: ["error": "\(error)"])
            return []
        }
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval) { await reapOnce() }
    }
}

/// Runs `body` every `interval` until graceful shutdown: the loop of the server's periodic services.
func repeatUntilShutdown(every interval: Duration, _ body: @escaping @Sendable () async -> Void) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            await body()
            try? await Task.sleep(for: interval)
        }
    }
}
