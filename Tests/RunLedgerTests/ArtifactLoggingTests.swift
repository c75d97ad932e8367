import Foundation
import LedgerArtifacts
import LedgerCore
import LedgerSQLite
import NIOCore
import Synchronization
import Testing

@testable import RunLedger

/// An artifact store that can be taken down, and counts what reached it.
final class SwitchableArtifactStore: ArtifactStore {
    let inner: FileSystemArtifactStore
    let down = Atomic<Bool>(false)
    let writes = Atomic<Int>(0)

    init(root: String) { inner = FileSystemArtifactStore(root: root) }

    private func check() throws {
        if down.load(ordering: .relaxed) { throw LedgerError(.storeUnavailable, "The artifact store is down (test).") }
    }

    func write(_ path: ArtifactPath, from body: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64) async throws -> Int64 {
        try check()
        let written = try await inner.write(path, from: body, maxBytes: maxBytes)
        writes.add(1, ordering: .relaxed)
        return written
    }
    func entry(at path: ArtifactPath) async throws -> ArtifactEntry? {
        try check()
        return try await inner.entry(at: path)
    }
    func read(_ path: ArtifactPath, range: Range<Int64>, into chunk: (ByteBuffer) async throws -> Void) async throws {
        try check()
        try await inner.read(path, range: range, into: chunk)
    }
    func list(_ path: ArtifactPath) async throws -> [ArtifactEntry] {
        try check()
        return try await inner.list(path)
    }
    func delete(_ path: ArtifactPath) async throws {
        try check()
        try await inner.delete(path)
    }
}

@Suite("Artifacts from the SDK", .serialized)
struct ArtifactLoggingTests {
    func runFolder(_ root: URL, _ run: RunID, experiment: ExperimentID) -> URL {
        root.appendingPathComponent("\(experiment)/\(run)/artifacts")
    }

    @Test("logText and logArtifact land below the run's artifact root byte for byte; the caller never waits; flush means staged")
    func upload() async throws {
        let folder = temporaryFolder("sdk-artifacts")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let artifacts = SwitchableArtifactStore(root: folder.appendingPathComponent("artifacts").path)
        let source = folder.appendingPathComponent("dispatch table.csv")
        let bytes = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        try bytes.write(to: source)
        var configuration = fastRetries(folder.appendingPathComponent("spool"))
        configuration.artifacts = artifacts
        let (ledger, runID) = try await Ledger.withLedger(store: store, configuration: configuration) { ledger in
            let run = ledger.startRun(experiment: "study", name: "design-1")
            run.logText("energy ✓\n", at: "notes/summary.txt")
            run.logArtifact(file: source, at: "results")
            await ledger.flush()
            run.end()
            return (ledger, run.id)
        }
        let experiment = try #require(try await store.experiment(named: "study")).id
        let root = runFolder(folder.appendingPathComponent("artifacts"), runID, experiment: experiment)
        #expect(try Data(contentsOf: root.appendingPathComponent("results/dispatch table.csv")) == bytes)
        #expect(try String(contentsOf: root.appendingPathComponent("notes/summary.txt"), encoding: .utf8) == "energy ✓\n")
        let statistics = ledger.statistics
        #expect(statistics.artifactsLogged == 2 && statistics.artifactsUploaded == 2 && statistics.artifactsPending == 0)
        #expect(artifacts.writes.load(ordering: .relaxed) == 2)
        #expect(StagedArtifact.all(in: ArtifactShipper.stagingFolder(in: folder.appendingPathComponent("spool"))).isEmpty)
        #expect(ledger.problems.isEmpty, "\(ledger.problems)")
        try await store.close()
    }

    @Test("while the artifact store is down files wait staged; a ledger that closes first leaves them, the next one sends each exactly once")
    func outage() async throws {
        let folder = temporaryFolder("sdk-artifacts-outage")
        let spool = folder.appendingPathComponent("spool")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let artifacts = SwitchableArtifactStore(root: folder.appendingPathComponent("artifacts").path)
        artifacts.down.store(true, ordering: .relaxed)
        var configuration = fastRetries(spool)
        configuration.artifacts = artifacts
        let source = folder.appendingPathComponent("model.bin")
        try Data(repeating: 7, count: 70_000).write(to: source)
        let (first, runID) = try await Ledger.withLedger(store: store, configuration: configuration) { ledger in
            let run = ledger.startRun(experiment: "study")
            run.logArtifact(file: source)
            run.logText("checkpoint 1", at: "log.txt")
            await ledger.flush()
            // Staged, so the source may change now without changing what is sent.
            try Data(repeating: 9, count: 10).write(to: source)
            run.end()
            return (ledger, run.id)
        }
        #expect(first.statistics.artifactsPending == 2 && first.statistics.artifactsUploaded == 0)
        #expect(StagedArtifact.all(in: ArtifactShipper.stagingFolder(in: spool)).count == 2)
        #expect(artifacts.writes.load(ordering: .relaxed) == 0)

        artifacts.down.store(false, ordering: .relaxed)
        let second = try await Ledger.withLedger(store: store, configuration: configuration) { ledger in ledger }
        #expect(second.statistics.artifactsUploaded == 2 && second.statistics.artifactsPending == 0)
        #expect(artifacts.writes.load(ordering: .relaxed) == 2)
        let experiment = try #require(try await store.experiment(named: "study")).id
        let root = runFolder(folder.appendingPathComponent("artifacts"), runID, experiment: experiment)
        #expect(try Data(contentsOf: root.appendingPathComponent("model.bin")) == Data(repeating: 7, count: 70_000))
        #expect(try String(contentsOf: root.appendingPathComponent("log.txt"), encoding: .utf8) == "checkpoint 1")
        #expect(StagedArtifact.all(in: ArtifactShipper.stagingFolder(in: spool)).isEmpty)
        try await store.close()
    }

    @Test("a missing file, a path that leaves the run, a damaged staged copy and a ledger without an artifact store are reported, not thrown")
    func problems() async throws {
        let folder = temporaryFolder("sdk-artifacts-problems")
        let spool = folder.appendingPathComponent("spool")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let artifacts = SwitchableArtifactStore(root: folder.appendingPathComponent("artifacts").path)
        var configuration = fastRetries(spool)
        configuration.artifacts = artifacts
        let ledger = try await Ledger.withLedger(store: store, configuration: configuration) { ledger in
            let run = ledger.startRun(experiment: "study")
            run.logArtifact(file: folder.appendingPathComponent("nowhere.bin"))
            run.logText("x", at: "../escape.txt")
            run.logText("x", at: "")
            run.end()
            return ledger
        }
        let messages = ledger.problems.map(\.message)
        #expect(messages.count == 3, "\(messages)")
        #expect(messages.contains { $0.contains("nowhere.bin") })
        #expect(messages.contains { $0.contains("'.' and '..'") })
        #expect(artifacts.writes.load(ordering: .relaxed) == 0)

        // A staged copy altered on disk is refused by its checksum, reported and dropped; nothing is uploaded.
        let staging = ArtifactShipper.stagingFolder(in: spool)
        let run = NewRun(experimentName: "study", startTime: 1)
        _ = try await store.write(WriteBatch([.createRun(run)]))
        try await ArtifactShipper.stage(
            ArtifactShipper.Request(runID: run.runID, path: try ArtifactPath(validating: "a.txt"), content: .text(Array("original".utf8))),
            in: staging)
        let entry = try #require(StagedArtifact.all(in: staging).first)
        try Data("altered!".utf8).write(to: entry.data)
        let checker = try await Ledger.withLedger(store: store, configuration: configuration) { ledger in ledger }
        #expect(checker.problems.contains { $0.message.contains("checksum") }, "\(checker.problems)")
        #expect(StagedArtifact.all(in: staging).isEmpty && artifacts.writes.load(ordering: .relaxed) == 0)

        var plain = fastRetries(folder.appendingPathComponent("spool-2"))
        plain.artifacts = nil
        let without = try await Ledger.withLedger(store: store, configuration: plain) { ledger in
            ledger.startRun(experiment: "study").logText("x", at: "a.txt")
            return ledger
        }
        #expect(without.problems.contains { $0.message.contains("no artifact store") })
        try await store.close()
    }
}
