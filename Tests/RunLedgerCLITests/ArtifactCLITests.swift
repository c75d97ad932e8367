import Foundation
import Testing

@Suite("runledger artifacts: list, get and put, on the database's artifact folder and through a server")
struct ArtifactCLITests {
    @Test("a folder put on the SQLite side lists and downloads identically through the server, and the reverse; bad input exits 2")
    func roundTrip() async throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("ledger.sqlite").path
        let server = try await ServerProcess(["--port", "0", "--database", database])
        defer { server.process.terminate() }  // SIGTERM; nothing waits on its exit
        let created = try await server.post("runs/create", ["experiment_id": "0"])
        let runID = try #require((created["run"] as? [String: Any]).flatMap { $0["info"] as? [String: Any] }?["run_id"] as? String)

        let local = folder.appendingPathComponent("results")
        try FileManager.default.createDirectory(at: local.appendingPathComponent("plots"), withIntermediateDirectories: true)
        let binary = Data((0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) })
        try binary.write(to: local.appendingPathComponent("plots/dispatch.bin"))
        let text = Data("coût ✓\n".utf8)
        try text.write(to: local.appendingPathComponent("résumé ✓.txt"))

        let put = try await CLI.run(["artifacts", "put", runID, local.path, "--at", "study", "--database", database])
        #expect(put.status == 0, "\(put.stderr)")
        #expect(put.stdout.contains("2 files, \(binary.count + text.count) bytes"))

        let viaFile = try await CLI.run(["artifacts", "list", runID, "study", "--recursive", "--format", "json", "--database", database])
        let viaServer = try await CLI.run(["artifacts", "list", runID, "study", "--recursive", "--format", "json", "--database", server.url])
        #expect(viaFile.status == 0 && viaServer.status == 0, "\(viaFile.stderr) \(viaServer.stderr)")
        let listed = try jsonArray(viaServer.stdout).map { "\($0["path"] ?? "") \($0["file_size"] ?? "")" }
        #expect(listed == ["study/plots/dispatch.bin \(binary.count)", "study/résumé ✓.txt \(text.count)"])
        #expect(viaFile.stdout == viaServer.stdout)

        let download = folder.appendingPathComponent("download")
        let get = try await CLI.run(["artifacts", "get", runID, "study", "--output", download.path, "--database", server.url])
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Data(contentsOf: download.appendingPathComponent("plots/dispatch.bin")) == binary)
        #expect(try String(contentsOf: download.appendingPathComponent("résumé ✓.txt"), encoding: .utf8) == "coût ✓\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: download.appendingPathComponent("plots").path) == ["dispatch.bin"])

        // Uploaded through the server, read from the folder: one store either way.
        let note = folder.appendingPathComponent("note.txt")
        try Data("through the server".utf8).write(to: note)
        #expect(try await CLI.run(["artifacts", "put", runID, note.path, "--database", server.url]).status == 0)
        let single = try await CLI.run(["artifacts", "get", runID, "note.txt", "--output", download.path, "--database", database])
        #expect(single.status == 0, "\(single.stderr)")
        #expect(try String(contentsOf: download.appendingPathComponent("note.txt"), encoding: .utf8) == "through the server")
        let top = try await CLI.run(["artifacts", "list", runID, "--database", database])
        #expect(top.stdout.contains("note.txt") && top.stdout.contains("study/"))

        for arguments in [
            ["put", runID, note.path, "--at", "../escape"], ["put", runID, folder.appendingPathComponent("missing").path],
            ["get", runID, "nothing-here"], ["get", runID, "a/../../b"], ["list", "not-a-run"], ["list", String(repeating: "0", count: 32)],
        ] {
            let result = try await CLI.run(["artifacts"] + arguments + ["--database", database])
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasPrefix("error: "), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("escape").path))
    }

    @Test("gc removes the files of runs deleted longer ago than --older-than, counts them first with --dry-run, and leaves live runs alone")
    func garbageCollection() async throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("ledger.sqlite").path
        let server = try await ServerProcess(["--port", "0", "--database", database])
        defer { server.process.terminate() }  // SIGTERM; nothing waits on its exit
        var runs: [String] = []
        for _ in 0..<3 {
            let created = try await server.post("runs/create", ["experiment_id": "0"])
            runs.append(try #require((created["run"] as? [String: Any]).flatMap { $0["info"] as? [String: Any] }?["run_id"] as? String))
        }
        let file = folder.appendingPathComponent("result.csv")
        try Data(repeating: 65, count: 1234).write(to: file)
        for run in runs { #expect(try await CLI.run(["artifacts", "put", run, file.path, "--at", "out", "--database", database]).status == 0) }
        try await server.post("runs/delete", ["run_id": runs[0]])
        try await server.post("runs/delete", ["run_id": runs[1]])

        func gc(_ arguments: [String], on target: String) async throws -> [String: Any] {
            let result = try await CLI.run(["gc", "--format", "json", "--database", target] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }
        #expect(try await gc(["--older-than", "1d"], on: database)["runs"] as? Int == 0)
        let dry = try await gc(["--older-than", "0", "--dry-run"], on: database)
        #expect(dry["runs"] as? Int == 2 && dry["files"] as? Int == 2 && dry["bytes"] as? Int == 2468)
        let artifacts = folder.appendingPathComponent("runledger-artifacts/0")
        #expect(FileManager.default.fileExists(atPath: artifacts.appendingPathComponent("\(runs[0])/artifacts/out/result.csv").path))

        let done = try await gc(["--older-than", "0"], on: server.url)
        #expect(done["runs"] as? Int == 2 && done["bytes"] as? Int == 2468)
        #expect(!FileManager.default.fileExists(atPath: artifacts.appendingPathComponent("\(runs[0])").path))
        #expect(!FileManager.default.fileExists(atPath: artifacts.appendingPathComponent("\(runs[1])").path))
        #expect(FileManager.default.fileExists(atPath: artifacts.appendingPathComponent("\(runs[2])/artifacts/out/result.csv").path))
        #expect(try await gc(["--older-than", "0"], on: database)["runs"] as? Int == 0)

        let bad = try await CLI.run(["gc", "--older-than", "soon", "--database", database])
        #expect(bad.status != 0 && bad.stderr.contains("--older-than"))
    }
}

/// CRC-32C, bit by bit: an independent check of the SDK's staged-artifact manifests.
func crc32c(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return crc ^ 0xFFFF_FFFF
}

@Suite("runledger spool with staged artifacts")
struct SpoolArtifactCLITests {
    @Test("spool status counts staged artifact files; spool replay uploads them below their run and empties the staging folder")
    func replayStaged() async throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("ledger.sqlite").path
        #expect(try await CLI.run(["demo", "--database", database, "--runs", "1", "--steps", "2"]).status == 0)
        let runs = try jsonArray(
            try await CLI.run(["runs", "search", "--experiment", "energy-design-study", "--format", "json", "--database", database]).stdout)
        let runID = try #require(runs.first?["run_id"] as? String)

        // What a ledger leaves when it closes while the artifact store is down: the bytes, then the manifest.
        let staging = folder.appendingPathComponent("spool/artifacts")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        let bytes = Array("dispatch,cost\n1,2\n".utf8)
        try Data(bytes).write(to: staging.appendingPathComponent("0000000000000001-a.data"))
        let manifest: [String: Any] = ["run_id": runID, "path": "tables/dispatch.csv", "bytes": bytes.count, "crc32c": Int(crc32c(bytes))]
        try JSONSerialization.data(withJSONObject: manifest).write(to: staging.appendingPathComponent("0000000000000001-a.json"))

        let status = try await CLI.run(["spool", "status", "--spool", folder.appendingPathComponent("spool").path])
        #expect(status.stderr.contains("1 artifact file(s), \(bytes.count) bytes, staged"), "\(status.stderr)")
        let replay = try await CLI.run(["spool", "replay", "--spool", folder.appendingPathComponent("spool").path, "--database", database])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("Uploaded 1 artifact file(s)"), "\(replay.stdout)")
        let listed = try await CLI.run(["artifacts", "list", runID, "tables", "--format", "json", "--database", database])
        #expect(try jsonArray(listed.stdout).map { $0["path"] as? String } == ["tables/dispatch.csv"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: staging.path).isEmpty)
    }
}
