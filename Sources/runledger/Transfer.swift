import ArgumentParser
import Foundation
import LedgerConnect
import LedgerCore

/// `runledger copy`: every table of one database into another, any backend to any backend.
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a whole database into an empty one: SQLite to PostgreSQL, PostgreSQL to SQLite, or alike.",
        discussion: """
            Everything moves: experiments, runs, params, tags, metric histories, latest metrics, events, spans, \
            logged models, retention policies, projects and state documents with their versions, and the ids of \
            applied spool batches (so a spool replayed against the new database is still applied once). The source \
            is read on one snapshot and may stay in use; the target must be empty (a new SQLite file, or a freshly \
            migrated PostgreSQL database).

            Pages are committed one by one: an interrupted copy started again with the same --from and --to \
            resumes where it stopped. At the end every table of the target is compared with the source (row count \
            and a checksum of every row). Artifact files are copied too when both sides have a folder for them \
            (beside a SQLite file by default; --from-artifacts and --to-artifacts for PostgreSQL).

            Prints one JSON object on stdout: {experiments, runs, params, tags, metric_points, artifacts, \
            artifact_bytes, skipped_runs, verified}; skipped_runs counts runs an earlier attempt had copied.

            Example:
              runledger copy --from runledger.sqlite --to postgres://runledger@db.internal/runledger
            """
    )

    @Option(help: ArgumentHelp("The database to read: a SQLite file or a postgres:// URL.", valueName: "path-or-url")) var from: String
    @Option(help: ArgumentHelp("The empty database to fill: a SQLite file (created) or a postgres:// URL.", valueName: "path-or-url"))
    var to: String
    @Option(help: ArgumentHelp("The source's artifact folder (default: runledger-artifacts beside a SQLite file).", valueName: "path"))
    var fromArtifacts: String?
    @Option(help: ArgumentHelp("The target's artifact folder (default: runledger-artifacts beside a SQLite file).", valueName: "path"))
    var toArtifacts: String?
    @Flag(help: "Copy the database only, not the artifact files.") var noArtifacts = false

    func run() async throws {
        try await reportingErrors {
            let source = try DatabaseLocation(from)
            let target = try DatabaseLocation(to)
            let logger = cliLogger()
            let summary = try await LedgerConnect.withStore(
                source, options: ConnectOptions(migrate: true, create: false, readOnly: true, logger: logger)
            ) {
                reading in
                try await LedgerConnect.withStore(target, options: ConnectOptions(migrate: true, create: true, logger: logger)) { writing in
                    let bar = TransferProgressBar(label: "Copying")
                    var summary = try await Transfer.copy(from: try relational(reading), to: try relational(writing)) { bar.update($0, $1) }
                    bar.finish()
                    if !noArtifacts, let folders = artifactFolders(source, target) {
                        let files = try ArtifactFolderCopy.copy(from: folders.from, to: folders.to)
                        summary.artifacts = files.count
                        summary.artifactBytes = files.bytes
                    }
                    return summary
                }
            }
            try printSummary(summary)
        }
    }

    private func artifactFolders(_ source: DatabaseLocation, _ target: DatabaseLocation) -> (from: String, to: String)? {
        guard let from = fromArtifacts ?? defaultArtifactFolder(source), let to = toArtifacts ?? defaultArtifactFolder(target) else { return nil }
        return (from, to)
    }
}

/// `runledger backup`: a consistent, portable archive of a database in use.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent archive of a database while it stays in use.",
        discussion: """
            The archive holds every table as of one moment: SQLite is read in one read transaction (WAL mode, \
            writers go on), PostgreSQL in one REPEATABLE READ transaction. It is portable (restore it into SQLite \
            or PostgreSQL), versioned and checksummed; the format is in docs/archive-format.md. It is written \
            to FILE.partial and renamed into place once complete, so FILE is always a whole archive. Artifact \
            files are not in the archive: back up the artifact folder with your file tools.

            Prints one JSON object on stdout: {output, bytes, tables: {NAME: ROWS}}.

            Example:
              runledger backup --database runledger.sqlite --output nightly.rlarchive
            """
    )

    @OptionGroup var database: DatabaseOptions
    @Option(help: ArgumentHelp("The archive file to write (replaced atomically).", valueName: "file")) var output: String

    func run() async throws {
        try await reportingErrors {
            let output = self.output
            let written = try await database.reading { store in
                let store = try relational(store)
                let partial = output + ".partial"
                guard FileManager.default.createFile(atPath: partial, contents: nil), let handle = FileHandle(forWritingAtPath: partial) else {
                    throw LedgerError(.invalidParameterValue, "Cannot write '\(partial)': check that its folder exists and is writable.")
                }
                let bar = TransferProgressBar(label: "Backing up")
                let result: (bytes: Int64, digests: [TableDigest])
                do {
                    result = try await store.withSnapshot { reader in
                        var encoder = ArchiveEncoder(
                            ArchiveHeader(createdAt: store.clock(), backend: store.backend, schemaVersion: try await Transfer.schemaVersion(reader)))
                        var bytes = Int64(0)
                        func write(_ data: [UInt8]) throws {
                            try handle.write(contentsOf: data)
                            bytes += Int64(data.count)
                        }
                        try write(try encoder.start())
                        for (index, table) in TransferCatalog.tables.enumerated() {
                            var rows = 0
                            try await Transfer.pages(of: table, reader) { page in
                                try write(encoder.rows(table: index, page))
                                rows += page.count
                                bar.update(table.name, rows)
                            }
                        }
                        try write(try encoder.finish())
                        return (bytes, encoder.written)
                    }
                    try handle.synchronize()
                    try handle.close()
                    guard rename(partial, output) == 0 else {
                        throw LedgerError(.invalidParameterValue, "Cannot write '\(output)': \(String(cString: strerror(errno))).")
                    }
                } catch {
                    try? handle.close()
                    try? FileManager.default.removeItem(atPath: partial)
                    if error is LedgerError { throw error }
                    throw LedgerError(.invalidParameterValue, "Cannot write '\(output)': \(error.localizedDescription)")
                }
                bar.finish()
                return result
            }
            let tables = zip(TransferCatalog.tables, written.digests).map { ($0.name, JSONValue.integer($1.rows)) }
            print(JSONValue.object([("output", .string(output)), ("bytes", .integer(written.bytes)), ("tables", .object(tables))]).description)
        }
    }
}

/// `runledger restore`: an archive into an empty database.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore an archive written by `runledger backup` into an empty database.",
        discussion: """
            The whole archive is read and checked first (every frame's checksum, the trailer with each table's \
            row count and checksum): a truncated or altered archive is refused before anything is written. The \
            target must be empty (a new SQLite file, or a freshly migrated PostgreSQL database); an interrupted \
            restore started again with the same archive and database resumes. At the end every table of the \
            target is compared with the archive.

            Prints one JSON object on stdout: {experiments, runs, params, tags, metric_points, artifacts, \
            artifact_bytes, skipped_runs, verified}.

            Example:
              runledger restore nightly.rlarchive --database postgres://runledger@db.internal/runledger
            """
    )

    @Argument(help: ArgumentHelp("The archive to restore.", valueName: "file")) var archive: String
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try await reportingErrors {
            let archive = self.archive
            // First pass: the whole file must be intact before anything is written.
            var header: ArchiveHeader?
            var trailer: ArchiveTrailer?
            let contents = try await ArchiveFile.read(archive) { event in
                switch event {
                case .header(let found):
                    try ArchiveFile.checkTables(found)
                    header = found
                case .end(let found): trailer = found
                case .rows: break
                }
            }
            guard let header, let trailer else { throw LedgerError(.invalidArchive, "The archive is empty.") }
            let summary = try await database.writing { store in
                var load = try await ArchiveLoad(into: try relational(store), header: header, trailer: trailer)
                let bar = TransferProgressBar(label: "Restoring")
                if load.isPending {
                    try await ArchiveFile.read(archive) { event in
                        guard case .rows(let index, let rows) = event, let moved = try await load.load(table: index, rows) else { return }
                        bar.update(moved.table, moved.rows)
                    }
                }
                bar.finish()
                return try await load.finish(expecting: contents)
            }
            try printSummary(summary)
        }
    }
}

/// Reading an archive file in pieces.
enum ArchiveFile {
    /// Feeds `body` every event of the archive at `path`; returns the digests of its rows (``ArchiveDecoder/contents``).
    @discardableResult
    static func read(_ path: String, _ body: (ArchiveEvent) async throws -> Void) async throws -> [TableDigest] {
        let handle = try open(path)
        defer { try? handle.close() }
        var decoder = ArchiveDecoder()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            decoder.feed(chunk)
            while let event = try decoder.next() { try await body(event) }
        }
        try decoder.checkComplete()
        return decoder.contents
    }

    private static func open(_ path: String) throws -> FileHandle {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LedgerError(.invalidParameterValue, "Cannot read '\(path)': no such file, or not readable.")
        }
        return handle
    }

    /// Refuses an archive with a table or column this binary does not know (written by a newer RunLedger).
    static func checkTables(_ header: ArchiveHeader) throws {
        for table in header.tables {
            guard let known = TransferCatalog.table(named: table.name) else {
                throw LedgerError(
                    .invalidArchive, "The archive holds table \(table.name), which this RunLedger does not know; restore it with a newer release.")
            }
            try known.check(table.columns)
        }
    }
}

/// Copies an artifact folder file by file; files already present with the same size are kept (a resumed copy).
enum ArtifactFolderCopy {
    static func copy(from source: String, to target: String) throws -> (count: Int, bytes: Int64) {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: source, isDirectory: &isFolder), isFolder.boolValue else { return (0, 0) }
        let root = URL(fileURLWithPath: source).standardizedFileURL.resolvingSymlinksInPath()
        let destination = URL(fileURLWithPath: target).standardizedFileURL
        guard let walker = manager.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey]) else { return (0, 0) }
        var count = 0
        var bytes: Int64 = 0
        for case let file as URL in walker {
            let values = try file.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
            guard values.isRegularFile == true else { continue }
            let relative = file.resolvingSymlinksInPath().path.dropFirst(root.path.count).drop { $0 == "/" }
            // Upload leftovers of the artifact store are not artifacts.
            guard !relative.isEmpty, !relative.hasPrefix(".") else { continue }
            let size = Int64(values.fileSize ?? 0)
            let to = destination.appendingPathComponent(String(relative))
            if let existing = try? manager.attributesOfItem(atPath: to.path)[.size] as? Int64, existing == size { continue }
            try manager.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            let partial = to.deletingLastPathComponent().appendingPathComponent(".copy-\(UUID().uuidString)")
            try manager.copyItem(at: file, to: partial)
            if manager.fileExists(atPath: to.path) { try manager.removeItem(at: to) }
            try manager.moveItem(at: partial, to: to)
            count += 1
            bytes += size
        }
        return (count, bytes)
    }
}

/// Per-table progress on stderr (a terminal only).
final class TransferProgressBar: Sendable {
    private let label: String
    private let interactive = isatty(2) == 1

    init(label: String) { self.label = label }

    func update(_ table: String, _ rows: Int) {
        guard interactive else { return }
        writeStandardError("\r\u{1B}[K\(label) \(table): \(rows) rows")
    }

    func finish() {
        if interactive { writeStandardError("\r\u{1B}[K") }
    }
}

/// The store behind `store` as a relational database: copy, backup and restore need SQL, not a server's API.
func relational(_ store: any TrackingStore) throws -> any RelationalStore {
    guard let relational = store as? any RelationalStore else {
        throw LedgerError(
            .invalidParameterValue,
            "\(store.identity) is a RunLedger server; copy, backup and restore need the database itself (a SQLite file or a postgres:// URL).")
    }
    return relational
}

/// `runledger-artifacts` beside a SQLite file; nil for other databases, which have no place of their own.
func defaultArtifactFolder(_ location: DatabaseLocation) -> String? {
    guard case .sqlite(let path) = location else { return nil }
    return URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("runledger-artifacts").path
}

func printSummary(_ summary: TransferSummary) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(summary), as: UTF8.self))
}
