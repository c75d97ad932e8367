public import CoreMetrics
public import Foundation
public import LedgerArtifacts
public import Logging

/// How a ``Ledger`` batches, buffers and spools. Every property has a default that suits a simulation on one machine.
public struct LedgerConfiguration: Sendable {
    /// A batch is written once it holds this many items (points, params, tags). Default 10 000.
    public var batchSize: Int
    /// Items logged are written at least this often, however few. Default 200 ms.
    public var flushInterval: Duration
    /// The most memory the ledger holds: the writer's working set, and waiting items in the rest. Past half of the
    /// waiting items' share the writer spills to the spool instead of waiting for the store; at the share itself new
    /// points are dropped and counted (``LedgerStatistics/dropped``), which happens only if callers outrun the disk.
    /// Default 64 MiB.
    public var bufferBound: Int
    /// The spool root: each ledger writes its own folder below it and adopts folders left by processes that died.
    /// Default `./.runledger-spool`.
    public var spoolDirectory: URL
    /// How often open runs tell the store they are alive. Default 30 s.
    public var heartbeatInterval: Duration
    /// The first wait before retrying an unavailable store; doubled per failure (with full jitter). Default 100 ms.
    public var initialRetryDelay: Duration
    /// The longest wait between retries. Default 10 s.
    public var maximumRetryDelay: Duration
    /// How long ``Ledger/close()`` keeps replaying the spool into a store that is back (or busy) before it gives up
    /// and leaves the rest for the next ledger on the same spool root or `runledger spool replay`. Default 30 s.
    public var closeTimeout: Duration
    /// Whether leftover spool folders written for another database are replayed into this store too. Default false:
    /// a folder is replayed only into the database its segments name (``TrackingStore/identity``).
    public var replaysAnyDatabase: Bool
    /// Where problems (rejected input, spooling, replay) are logged.
    public var logger: Logger
    /// Where the SDK's counters go; nil means the process-wide `MetricsSystem` (what a server bootstraps).
    public var metricsFactory: (any MetricsFactory)?
    /// Where ``RunHandle/logArtifact(file:at:)`` and ``RunHandle/logText(_:at:)`` send files: a
    /// `FileSystemArtifactStore` on the server's artifact folder, or a `RemoteArtifactStore` of a server. Default nil:
    /// artifact calls are reported as problems.
    public var artifacts: (any ArtifactStore)?

    public init(
        batchSize: Int = 10_000, flushInterval: Duration = .milliseconds(200), bufferBound: Int = 64 << 20,
        spoolDirectory: URL = URL(fileURLWithPath: ".runledger-spool"), heartbeatInterval: Duration = .seconds(30),
        initialRetryDelay: Duration = .milliseconds(100), maximumRetryDelay: Duration = .seconds(10), closeTimeout: Duration = .seconds(30),
        replaysAnyDatabase: Bool = false, logger: Logger = Logger(label: "runledger.sdk"), metricsFactory: (any MetricsFactory)? = nil,
        artifacts: (any ArtifactStore)? = nil
    ) {
        precondition(batchSize > 0 && bufferBound > 0, "batchSize and bufferBound must be positive")
        self.batchSize = batchSize
        self.flushInterval = flushInterval
        self.bufferBound = bufferBound
        self.spoolDirectory = spoolDirectory
        self.heartbeatInterval = heartbeatInterval
        self.initialRetryDelay = initialRetryDelay
        self.maximumRetryDelay = maximumRetryDelay
        self.closeTimeout = closeTimeout
        self.replaysAnyDatabase = replaysAnyDatabase
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.artifacts = artifacts
    }
}

extension LedgerConfiguration {
    /// The share of ``bufferBound`` that waiting items may use: the rest is the writer's working set (a spool segment
    /// being replayed, a chunk being written, the chunk being filled and a spare), so that everything the ledger holds
    /// stays within the bound. Chunks kept for reuse during a burst count against this share.
    var bufferLimit: Int {
        let workingSet = Spool.segmentLimit + 3 * batchSize * MemoryLayout<PendingPoint>.stride
        return max(bufferBound / 2, bufferBound - workingSet)
    }
}

/// Counters of what a ledger did with what it was given.
public struct LedgerStatistics: Sendable, Equatable {
    /// Items (points, params, tags, run changes) accepted by log calls.
    public var logged = 0
    /// Items the store acknowledged, directly or by replay.
    public var written = 0
    /// Items appended to the spool.
    public var spooled = 0
    /// Items replayed from the spool into the store.
    public var replayed = 0
    /// Items refused as the caller's fault (bad key, changed param, unknown run); see ``Ledger/problems``.
    public var rejected = 0
    /// Points dropped because callers logged faster than the writer could even spill to the spool, with the buffer
    /// at its bound (memory stays bounded and the caller is never blocked, so this is the one way to lose a point;
    /// each occurrence is also in ``Ledger/problems``).
    public var dropped = 0
    /// Items lost because the store was unavailable and the spool could not be written or synced (a full or failing
    /// disk); each occurrence is also in ``Ledger/problems``.
    public var lost = 0
    /// Items in memory waiting to be written.
    public var buffered = 0
    /// Spool records found torn or corrupt and skipped: their items are lost (each is also in ``Ledger/problems``).
    public var tornRecords = 0
    /// Items still in the spool when the ledger closed (the store stayed unreachable past
    /// ``LedgerConfiguration/closeTimeout``): durable, and replayed by the next ledger on the same spool root or by
    /// `runledger spool replay`.
    public var pending = 0
    /// Artifact files and texts logged (``RunHandle/logArtifact(file:at:)``, ``RunHandle/logText(_:at:)``).
    public var artifactsLogged = 0
    /// Artifacts this ledger uploaded to its artifact store (staged ones a previous ledger left included).
    public var artifactsUploaded = 0
    /// Artifacts still staged when the ledger closed: sent by the next ledger on the same spool root or by
    /// `runledger spool replay`.
    public var artifactsPending = 0
}

/// Something that went wrong without being thrown at the caller: rejected input, a torn spool record.
public struct LedgerProblem: Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Retry delays: exponential growth with full jitter, capped. A pure value so that it can be tested without waiting.
struct Backoff: Sendable {
    let initial: Duration
    let maximum: Duration
    private(set) var failures = 0

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The wait before the next attempt after one more failure: uniform in [0, min(maximum, initial × 2^failures)].
    mutating func nextDelay(using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = min(maximum, initial * (1 << min(failures, 30)))
        failures += 1
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(0, nanoseconds), using: &generator))
    }

    mutating func reset() { failures = 0 }
}
