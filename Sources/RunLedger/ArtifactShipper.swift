public import Foundation
public import LedgerArtifacts
public import LedgerCore
import LedgerNative
import Logging
import NIOCore
import Synchronization
import _NIOFileSystem

/// Moves a ledger's artifact files to its ``ArtifactStore`` without the simulation waiting for either.
///
/// A log call only queues a request. The shipper's task copies each file (or text) into the staging folder
/// (`<spool root>/artifacts`) with its size and CRC-32C in a manifest written last, then uploads staged entries, oldest
/// first, below the run's artifact root; an entry is removed once its upload succeeded. While the store is down
/// entries wait on disk and are retried with the writer's backoff; entries a ledger could not send before closing are
/// sent by the next ledger on the same spool root, or by `runledger spool replay`. Uploading an entry twice (two
/// processes, a crash after the upload) writes the same bytes to the same path again, which readers cannot tell apart.
final class ArtifactShipper: Sendable {
    enum Content: Sendable {
        case file(URL)
        case text([UInt8])
    }

    struct Request: Sendable {
        let runID: RunID
        let path: ArtifactPath
        let content: Content
    }

    struct State {
        var queue: [Request] = []
        var accepted = 0
        var staged = 0
        var uploaded = 0
        var pendingAtClose = 0
        var problems: [LedgerProblem] = []
        var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var closing = false
        var stopped = false
    }

    let artifacts: any ArtifactStore
    let store: any TrackingStore
    let staging: URL
    let configuration: LedgerConfiguration
    let state = Mutex(State())
    let doorbell = Doorbell()

    init(artifacts: any ArtifactStore, store: any TrackingStore, configuration: LedgerConfiguration) {
        self.artifacts = artifacts
        self.store = store
        self.staging = Self.stagingFolder(in: configuration.spoolDirectory)
        self.configuration = configuration
    }

    func report(_ message: String) {
        configuration.logger.warning("\(message)")
        state.withLock { state in
            state.problems.append(LedgerProblem(message: message))
            if state.problems.count > 1000 { state.problems.removeFirst(state.problems.count - 1000) }
        }
    }

    /// The writer never started: nothing will be sent, so no flush may wait.
    func abandon() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stopped = true
            defer { state.waiters = [] }
            return state.waiters.map(\.continuation)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Where staged artifacts wait below a spool root.
    static func stagingFolder(in spoolRoot: URL) -> URL { spoolRoot.appendingPathComponent("artifacts") }

    // MARK: Callers

    /// Queues a request; never blocks and never fails (a closed ledger reports it).
    func enqueue(_ request: Request) {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.queue.append(request)
            state.accepted += 1
            return true
        }
        if accepted { doorbell.ring() } else { report("An artifact for run \(request.runID) was logged after the ledger closed; it is not kept.") }
    }

    /// Returns once every request queued before the call is staged on disk (or reported as failed).
    func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.staged >= state.accepted || state.stopped { return true }
                state.waiters.append((state.accepted, continuation))
                return false
            }
            if done { continuation.resume() } else { doorbell.ring() }
        }
    }

    /// Asks the task to send what it can within the close timeout, then stop.
    func close() {
        state.withLock { $0.closing = true }
        doorbell.ring()
    }

    // MARK: The task

    func run() async {
        var backoff = Backoff(initial: configuration.initialRetryDelay, maximum: configuration.maximumRetryDelay)
        var generator = SystemRandomNumberGenerator()
        var closingSince: ContinuousClock.Instant?
        var roots: [RunID: ArtifactPath] = [:]
        while !Task.isCancelled {
            await stageQueued()
            let sent = await sendStaged(roots: &roots)
            let (closing, queued) = state.withLock { ($0.closing, !$0.queue.isEmpty) }
            if closing {
                let since = closingSince ?? .now
                closingSince = since
                if !queued && (sent.remaining == 0 || ContinuousClock.now - since >= configuration.closeTimeout) { break }
            }
            if queued { continue }
            if sent.failed {
                await doorbell.wait(timeout: backoff.nextDelay(using: &generator))
            } else {
                backoff.reset()
                if sent.remaining == 0 { await doorbell.wait(timeout: .seconds(3600)) }
            }
        }
        let left = StagedArtifact.all(in: staging).count
        state.withLock { $0.pendingAtClose = left }
        if left > 0 {
            report(
                "\(left) artifact(s) could not be uploaded before closing; they wait in \(staging.path) for the next ledger or `runledger spool replay`."
            )
        }
        abandon()
    }

    /// Copies every queued request into the staging folder and releases the flushes it satisfies.
    private func stageQueued() async {
        let requests = state.withLock { state -> [Request] in
            defer { state.queue = [] }
            return state.queue
        }
        guard !requests.isEmpty else { return }
        for request in requests {
            do {
                try await Self.stage(request, in: staging)
            } catch {
                report("The artifact '\(request.path)' of run \(request.runID) could not be staged, so it is not kept: \(error)")
            }
        }
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.staged += requests.count
            let staged = state.staged
            let ready = state.waiters.filter { $0.target <= staged }.map(\.continuation)
            state.waiters.removeAll { $0.target <= staged }
            return ready
        }
        for waiter in ready { waiter.resume() }
    }

    /// Uploads staged entries, oldest first, until one fails for a reason that may pass (the store is down, the run
    /// is not in the store yet); entries that can never be sent are reported and removed.
    private func sendStaged(roots: inout [RunID: ArtifactPath]) async -> (failed: Bool, remaining: Int) {
        let entries = StagedArtifact.all(in: staging)
        for (index, entry) in entries.enumerated() {
            // Files logged meanwhile are copied first, so that a flush waits for one upload at most, not for all.
            await stageQueued()
            do {
                try await entry.send(to: artifacts, store: store, roots: &roots)
                state.withLock { $0.uploaded += 1 }
            } catch let error as LedgerError where error.code == .invalidParameterValue {
                report("The artifact '\(entry.path)' of run \(entry.runID) was refused, so it is not kept: \(error.message)")
                entry.remove()
            } catch ArtifactStoreError.tooLarge(let limit) {
                report("The artifact '\(entry.path)' of run \(entry.runID) is larger than the store's limit of \(limit) bytes; it is not kept.")
                entry.remove()
            } catch {
                configuration.logger.debug("artifact upload deferred", metadata: ["error": "\(error)"])
                return (true, entries.count - index)
            }
        }
        return (false, 0)
    }

    /// Writes the request's bytes to `<id>.data`, then its manifest to `<id>.json` (under a temporary name, renamed):
    /// an entry without a manifest is an interrupted copy and is never sent.
    static func stage(_ request: Request, in folder: URL) async throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let name = String(format: "%016llx-", UInt64(max(0, Ledger.now()))) + UUID().uuidString.lowercased()
        let data = folder.appendingPathComponent(name + ".data")
        var checksum = CRC32CStream()
        var size: Int64 = 0
        try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(data.path), options: .newFile(replaceExisting: true)) { handle in
            try await handle.withBufferedWriter(capacity: .mebibytes(1)) { writer in
                switch request.content {
                case .text(let bytes):
                    checksum.update(bytes)
                    size = Int64(bytes.count)
                    _ = try await writer.write(contentsOf: bytes)
                case .file(let url):
                    try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(url.path)) { source in
                        for try await chunk in source.readChunks(chunkLength: .kibibytes(256)) {
                            chunk.withUnsafeReadableBytes { checksum.update($0) }
                            size += Int64(chunk.readableBytes)
                            _ = try await writer.write(contentsOf: chunk)
                        }
                    }
                }
            }
        }
        let manifest = JSONValue.object([
            ("run_id", .string(request.runID.rawValue)), ("path", .string(request.path.description)), ("bytes", .integer(size)),
            ("crc32c", .integer(Int64(checksum.value))),
        ])
        let temporary = folder.appendingPathComponent(name + ".json.tmp")
        try Data(manifest.utf8).write(to: temporary)
        try FileManager.default.moveItem(at: temporary, to: folder.appendingPathComponent(name + ".json"))
    }
}

/// One staged artifact: its manifest and its bytes.
struct StagedArtifact: Sendable {
    let manifest: URL
    let data: URL
    let runID: RunID
    let path: ArtifactPath
    let bytes: Int64
    let checksum: UInt32

    /// Every complete entry in `folder`, oldest first; unreadable manifests are skipped (and left for a person).
    static func all(in folder: URL) -> [StagedArtifact] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            let manifest = folder.appendingPathComponent(name)
            guard let text = try? Data(contentsOf: manifest), let json = try? JSONValue(parsing: Array(text)),
                let runID = json["run_id"]?.text.flatMap(RunID.init), let path = json["path"]?.text.flatMap({ try? ArtifactPath(validating: $0) }),
                let bytes = json["bytes"]?.int64, let checksum = json["crc32c"]?.int64.flatMap(UInt32.init(exactly:))
            else { return nil }
            return StagedArtifact(
                manifest: manifest, data: folder.appendingPathComponent(String(name.dropLast(5)) + ".data"), runID: runID, path: path,
                bytes: bytes, checksum: checksum)
        }
    }

    /// Uploads the entry below its run's artifact root and removes it. A staged file whose size or checksum no
    /// longer matches its manifest (a damaged disk) is refused by throwing, and the store keeps nothing of it.
    func send(to artifacts: any ArtifactStore, store: any TrackingStore, roots: inout [RunID: ArtifactPath]) async throws {
        let root: ArtifactPath
        if let known = roots[runID] {
            root = known
        } else {
            let uri = try await store.run(runID).info.artifactURI
            guard let found = ArtifactPath(location: uri) else {
                throw LedgerError(.invalidParameterValue, "The run's artifacts live at '\(uri)', outside an artifact store this ledger can write.")
            }
            roots[runID] = found
            root = found
        }
        // One read: the bytes are checked as they go, and a mismatch at the end fails the write before it is kept.
        let sent = try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(data.path)) { handle in
            let chunks = VerifiedChunks(base: handle.readChunks(chunkLength: .kibibytes(256)), bytes: bytes, checksum: checksum)
            return try await artifacts.write(root.appending(path), from: chunks, maxBytes: .max)
        }
        guard sent == bytes else { throw LedgerError(.storeUnavailable, "The upload sent \(sent) of \(bytes) bytes; it will be retried.") }
        remove()
    }

    func remove() {
        try? FileManager.default.removeItem(at: manifest)
        try? FileManager.default.removeItem(at: data)
    }
}

/// A staged file's chunks, checked as they pass: a size or CRC-32C that differs from the manifest throws (at the end,
/// or as soon as the file is longer), so the store discards the upload instead of keeping a damaged copy.
struct VerifiedChunks<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let bytes: Int64
    let checksum: UInt32

    static var damaged: LedgerError {
        LedgerError(.invalidParameterValue, "The staged copy no longer matches its checksum; it was damaged on disk.")
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let bytes: Int64
        let checksum: UInt32
        var crc = CRC32CStream()
        var size: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else {
                guard size == bytes, crc.value == checksum else { throw VerifiedChunks.damaged }
                return nil
            }
            chunk.withUnsafeReadableBytes { crc.update($0) }
            size += Int64(chunk.readableBytes)
            guard size <= bytes else { throw VerifiedChunks.damaged }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), bytes: bytes, checksum: checksum) }
}

extension Ledger {
    /// The artifact files waiting in a spool root's staging folder, and their bytes (what `runledger spool status` shows).
    public static func stagedArtifacts(in spoolRoot: URL) -> (count: Int, bytes: Int64) {
        let entries = StagedArtifact.all(in: ArtifactShipper.stagingFolder(in: spoolRoot))
        return (entries.count, entries.reduce(0) { $0 + $1.bytes })
    }
}
