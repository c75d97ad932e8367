import ArgumentParser
import Foundation
import LedgerArtifacts
import LedgerConnect
import LedgerCore
import LedgerExport
import LedgerRemote

/// `runledger artifacts list|get|put`: a run's files, in the artifact folder of a SQLite or PostgreSQL database or on
/// a RunLedger server.
struct ArtifactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifacts",
        abstract: "List, download and upload the files of a run.",
        discussion: """
            Paths are relative to the run's artifact root, as in mlflow.log_artifact. With a SQLite or PostgreSQL \
            --database the files are read and written in the artifact folder (--artifacts-destination, the same \
            default as `runledger serve`); with --database http://HOST:PORT they go through the server's artifact API \
            (token in $RUNLEDGER_TOKEN).
            """,
        subcommands: [List.self, Get.self, Put.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a run's files and folders below PATH (default: the run's root).")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var artifacts: ArtifactOptions
        @Argument(help: "The run id (32 hexadecimal characters).") var runID: String
        @Argument(help: "A folder below the run's root.") var path: String = ""
        @Flag(help: "List every file below PATH instead of one folder level.") var recursive = false
        @Option(help: "table for people; json (an array of {path, is_dir, file_size}) or csv for scripts.") var format: OutputFormat = .table

        func run() async throws {
            try await reportingErrors {
                let within = try ArtifactPath(validating: path)
                let entries = try await withRunArtifacts(database, artifacts, runID: runID) { files, root in
                    let folder = root.appending(within)
                    let found = recursive ? try await files.files(under: folder) : try await files.list(folder)
                    return found.map {
                        ArtifactEntry(path: within.isRoot ? $0.path : "\(within)/\($0.path)", isDirectory: $0.isDirectory, size: $0.size)
                    }
                }
                switch format {
                case .json:
                    print(
                        JSONValue.array(
                            entries.map { entry in
                                .object(
                                    [("path", .string(entry.path)), ("is_dir", .bool(entry.isDirectory))]
                                        + (entry.size.map { [("file_size", JSONValue.integer($0))] } ?? []))
                            }))
                case .csv:
                    print(
                        CSV.line(["path", "is_dir", "file_size"])
                            + entries.map { CSV.line([$0.path, String($0.isDirectory), $0.size.map(String.init) ?? ""]) }.joined(),
                        terminator: "")
                case .table:
                    var table = TextTable(headers: ["PATH", "SIZE"], numericColumns: [1])
                    table.rows = entries.map { [$0.isDirectory ? $0.path + "/" : $0.path, $0.size.map(String.init) ?? ""] }
                    print(table.rendered, terminator: "")
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a run's file, or a folder with everything in it.",
            discussion: "Files are written under a temporary name and renamed when complete; an existing file of the same name is replaced."
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var artifacts: ArtifactOptions
        @Argument(help: "The run id (32 hexadecimal characters).") var runID: String
        @Argument(help: "The file or folder below the run's root.") var path: String
        @Option(
            name: .shortAndLong,
            help: ArgumentHelp("Where to write it (default: its name in the current folder; into an existing folder).", valueName: "path"))
        var output: String?

        func run() async throws {
            try await reportingErrors {
                let source = try ArtifactPath(validating: path)
                guard !source.isRoot else {
                    throw LedgerError(.invalidParameterValue, "Name a file or folder to download; `artifacts list` shows them.")
                }
                let (count, bytes, target) = try await withRunArtifacts(database, artifacts, runID: runID) { files, root in
                    let full = root.appending(source)
                    guard let entry = try await files.entry(at: full) else {
                        throw LedgerError(.resourceDoesNotExist, "The run has no file or folder '\(source)'; `artifacts list` shows what it has.")
                    }
                    var target = output ?? source.name
                    var isFolder: ObjCBool = false
                    if FileManager.default.fileExists(atPath: target, isDirectory: &isFolder), isFolder.boolValue, !entry.isDirectory {
                        target = URL(fileURLWithPath: target).appendingPathComponent(source.name).path
                    }
                    guard entry.isDirectory else { return (1, try await files.download(full, to: target), target) }
                    var bytes: Int64 = 0
                    let all = try await files.files(under: full)
                    for file in all {
                        let local = URL(fileURLWithPath: target).appendingPathComponent(file.path)
                        try FileManager.default.createDirectory(at: local.deletingLastPathComponent(), withIntermediateDirectories: true)
                        bytes += try await files.download(full.appending(try ArtifactPath(validating: file.path)), to: local.path)
                    }
                    return (all.count, bytes, target)
                }
                print("\(count) file\(count == 1 ? "" : "s"), \(bytes) bytes → \(target)")
            }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a local file, or a folder's contents, to a run.",
            discussion: """
                As mlflow.log_artifact(s): a file goes to AT/<its name>, a folder's contents go below AT (default: the \
                run's root). Uploads are atomic per file: a reader sees the old file or the new one.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var artifacts: ArtifactOptions
        @Argument(help: "The run id (32 hexadecimal characters).") var runID: String
        @Argument(help: "The local file or folder.") var local: String
        @Option(help: ArgumentHelp("The folder below the run's root to upload into.", valueName: "path")) var at: String = ""

        func run() async throws {
            try await reportingErrors {
                let folder = try ArtifactPath(validating: at)
                var isFolder: ObjCBool = false
                guard FileManager.default.fileExists(atPath: local, isDirectory: &isFolder) else {
                    throw LedgerError(.invalidParameterValue, "There is no file or folder '\(local)' to upload.")
                }
                let localURL = URL(fileURLWithPath: local)
                // (local file, path below the run's root)
                var uploads: [(String, ArtifactPath)] = []
                if isFolder.boolValue {
                    for relative in try Self.regularFiles(in: localURL) {
                        uploads.append((localURL.appendingPathComponent(relative).path, folder.appending(try ArtifactPath(validating: relative))))
                    }
                } else {
                    uploads.append((local, folder.appending(try ArtifactPath(validating: localURL.lastPathComponent))))
                }
                let planned = uploads
                let bytes = try await withRunArtifacts(database, artifacts, runID: runID) { files, root in
                    var bytes: Int64 = 0
                    for (file, path) in planned { bytes += try await files.upload(file: file, to: root.appending(path)) }
                    return bytes
                }
                print(
                    "\(uploads.count) file\(uploads.count == 1 ? "" : "s"), \(bytes) bytes → \(folder.isRoot ? "the run's root" : folder.description)"
                )
            }
        }

        /// Paths of the regular files below `folder`, relative to it; links are not followed.
        static func regularFiles(in folder: URL) throws -> [String] {
            let base = folder.standardizedFileURL.path
            guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey])
            else { return [] }
            var found: [String] = []
            for case let url as URL in walker {
                let values = try url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey])
                guard values.isRegularFile == true, values.isSymbolicLink != true else { continue }
                let path = url.standardizedFileURL.path
                guard path.hasPrefix(base + "/") else { continue }
                found.append(String(path.dropFirst(base.count + 1)))
            }
            return found.sorted()
        }
    }
}

/// Runs `body` with the artifact store for `database` and the artifact root of the run `runID`.
private func withRunArtifacts<T: Sendable>(
    _ database: DatabaseOptions, _ artifacts: ArtifactOptions, runID text: String,
    _ body: @Sendable (any ArtifactStore, ArtifactPath) async throws -> T
) async throws -> T {
    let id = try RunID.parse(text)
    let location = try database.location
    let uri = try await database.reading { store in try await store.run(id).info.artifactURI }
    guard let root = ArtifactPath(location: uri) else {
        throw LedgerError(
            .invalidParameterValue,
            "The run's artifacts live at '\(uri)', outside RunLedger's artifact store; read them with the tool that wrote them.")
    }
    return try await body(try artifacts.store(for: location, token: database.serverToken), root)
}

/// `runledger gc`: removes the artifacts of runs deleted longer ago than `--older-than`.
struct GarbageCollect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove the artifact files of runs deleted longer ago than --older-than.",
        discussion: """
            Deleting a run (mlflow.delete_run, runs/delete, deleting its experiment) keeps its files so that a restore \
            brings them back; gc frees their space once a run has stayed deleted for --older-than. The runs themselves \
            stay in the database, deleted; a run restored after gc has no files. Runs deleted before RunLedger recorded \
            deletion times count as deleted when the database was migrated. Works on a SQLite or PostgreSQL database \
            with its artifact folder, or through a server (--database http://HOST:PORT, a write token in $RUNLEDGER_TOKEN).
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var artifacts: ArtifactOptions
    @Option(help: "How long a run must have been deleted: 0 for every deleted run, or a number with s, m, h or d, e.g. 30d.")
    var olderThan = "30d"
    @Flag(help: "Count what would be removed and remove nothing.") var dryRun = false
    @Option(help: "table for people; json ({runs, files, bytes, skipped_runs}) for scripts.") var format: OutputFormat = .table

    func validate() throws {
        guard (try? DurationText.milliseconds(olderThan)) != nil else {
            throw ValidationError("Please give --older-than as 0 or a number with s, m, h or d, e.g. 30d.")
        }
        guard format != .csv else { throw ValidationError("--format takes table or json.") }
    }

    func run() async throws {
        try await reportingErrors {
            // Cannot overflow: the clock is positive and a duration at most Int64.max.
            let cutoff = WallClock.milliseconds() - (try DurationText.milliseconds(olderThan))
            let location = try database.location
            let deleted = try await database.reading { store in try await store.deletedRuns(before: cutoff) }
            let files = try artifacts.store(for: location, token: database.serverToken)
            var collected = 0
            var fileCount = 0
            var bytes: Int64 = 0
            var skipped = 0
            for run in deleted {
                // A run whose files live elsewhere (an imported file:// URI) is not ours to remove.
                guard let root = ArtifactPath(location: run.artifactURI) else {
                    skipped += 1
                    continue
                }
                let found = try await files.files(under: root)
                guard !found.isEmpty else { continue }
                if !dryRun {
                    // The run's own folder (`EXPERIMENT/RUN/artifacts` → `EXPERIMENT/RUN`) goes too, not left empty.
                    let owned = root.name == "artifacts" && root.parent.name == run.runID.rawValue
                    try await files.delete(owned ? root.parent : root)
                }
                collected += 1
                fileCount += found.count
                bytes += found.reduce(0) { $0 + ($1.size ?? 0) }
            }
            switch format {
            case .json:
                print(
                    JSONValue.object([
                        ("runs", .integer(Int64(collected))), ("files", .integer(Int64(fileCount))), ("bytes", .integer(bytes)),
                        ("skipped_runs", .integer(Int64(skipped))), ("dry_run", .bool(dryRun)),
                    ]))
            case .table, .csv:
                let verb = dryRun ? "Would remove" : "Removed"
                print("\(verb) \(fileCount) file(s), \(bytes) bytes, of \(collected) run(s) deleted before \(cutoff) (epoch ms).")
                if skipped > 0 { print("\(skipped) deleted run(s) keep their artifacts outside RunLedger's store and were left alone.") }
            }
        }
    }
}
