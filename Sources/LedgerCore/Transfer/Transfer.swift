/// Reads on one consistent snapshot of a whole database, for as long as a ``RelationalStore/withSnapshot(_:)`` body
/// runs (a SQLite read transaction in WAL mode, a PostgreSQL `REPEATABLE READ` transaction).
public struct SnapshotReader: Sendable {
    private let read: @Sendable (SQLTemplate) async throws -> [SQLRow]
    private let summarize: (@Sendable (TransferTable) async throws -> TableDigest?)?

    /// A reader; `digest`, when given, computes a table's ``TableDigest`` inside the database (nil: it cannot, and
    /// the rows are read and hashed here).
    public init(
        _ read: @escaping @Sendable (SQLTemplate) async throws -> [SQLRow],
        digest: (@Sendable (TransferTable) async throws -> TableDigest?)? = nil
    ) {
        self.read = read
        self.summarize = digest
    }

    public func rows(_ statement: SQLTemplate) async throws -> [SQLRow] { try await read(statement) }

    /// The digest of `table`'s columns (`table.columns`, in that order), from the database when it can compute it.
    public func digest(of table: TransferTable) async throws -> TableDigest {
        if let summarize, let digest = try await summarize(table) { return digest }
        var digest = TableDigest()
        try await Transfer.pages(of: table, self) { digest.add($0) }
        return digest
    }
}

/// What `runledger copy`, `restore` and `import` report on stdout (snake_case keys).
public struct TransferSummary: Sendable, Codable, Equatable {
    public var experiments = 0
    public var runs = 0
    public var params = 0
    public var tags = 0
    public var metricPoints = 0
    public var artifacts = 0
    public var artifactBytes: Int64 = 0
    /// Runs that were already in the target (an earlier, interrupted or completed attempt) and were not written again.
    public var skippedRuns = 0
    /// Whether the target was compared with the source, table by table, after the transfer (nil: not applicable).
    public var verified: Bool?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case experiments, runs, params, tags
        case metricPoints = "metric_points"
        case artifacts
        case artifactBytes = "artifact_bytes"
        case skippedRuns = "skipped_runs"
        case verified
    }

    /// Counts `rows` (in `columns` order) of `table` as moved; metric points by the chunks' counts.
    public mutating func count(_ rows: [[SQLValue?]], of table: TransferTable, columns: [String]) {
        switch table.name {
        case "experiments": experiments += rows.count
        case "runs": runs += rows.count
        case "params": params += rows.count
        case "tags": tags += rows.count
        case "metric_chunks":
            guard let column = columns.firstIndex(of: "point_count") else { break }
            for row in rows where row.indices.contains(column) {
                if case .integer(let count)? = row[column] { metricPoints &+= Int(clamping: count) }
            }
        default: break
        }
    }
}

/// How far a transfer has come, as the target records it.
public struct TransferProgress: Sendable {
    /// Where the rows come from (``TrackingStore/identity`` or an archive's digest).
    public var source: String
    public var rowsMoved: [String: Int64]
    public var leads: [String: String?]
    public var finished: Bool
}

/// Moves every table from a source to a ``RelationalStore`` in bounded transactions, so that an interrupted transfer
/// resumes where it stopped; the rules (empty target, resume, verification) live here once for every backend.
public enum Transfer {
    /// Rows per page (whole lead groups, so a page can hold more). Each page costs a commit and a page query, so pages
    /// are large; two are held at a time.
    public static let pageRows = 50_000

    /// Decides whether `target` may receive rows from `source`: an empty database starts a new transfer, one holding
    /// an unfinished transfer from the same source resumes it; anything else is refused.
    public static func prepare(_ target: any RelationalStore, source: String) async throws -> TransferProgress {
        let rows = try await target.read([TransferSQL.progress, TransferSQL.contentProbe])
        let recorded = rows[0]
        let sources = Set(try recorded.map { try $0.text(0) })
        if sources == [source] {
            var progress = TransferProgress(source: source, rowsMoved: [:], leads: [:], finished: true)
            for row in recorded {
                let table = try row.text(1)
                progress.rowsMoved[table] = try row.int64(2)
                progress.leads[table] = try row.optionalText(3)
                if try row.optionalInt64(4) == nil { progress.finished = false }
            }
            return progress
        }
        if let other = sources.sorted().first {
            throw LedgerError(
                .invalidState,
                "The target database holds a transfer from \(other), not from \(source). Finish that one, or use an empty database.")
        }
        guard try rows[1].first?.int64(0) == 0 else {
            throw LedgerError(
                .invalidState,
                "The target database \(target.identity) is not empty; copy and restore write only into an empty database (a new file or a freshly migrated PostgreSQL database)."
            )
        }
        _ = try await target.write(TransferSQL.begin(source: source, now: target.clock()), idempotent: true)
        return TransferProgress(source: source, rowsMoved: [:], leads: [:], finished: false)
    }

    /// Copies every table of `source` (one snapshot) into `target`, resuming a transfer `prepare` found, then compares
    /// the two table by table. `onPage` reports each table's rows moved so far (a progress bar); what it throws ends
    /// the copy after that page, as an interruption would.
    public static func copy(
        from source: any RelationalStore, to target: any RelationalStore, pageRows: Int = pageRows,
        onPage: @escaping @Sendable (String, Int) throws -> Void = { _, _ in }
    ) async throws -> TransferSummary {
        guard source.identity != target.identity else {
            throw LedgerError(.invalidParameterValue, "The source and the target are the same database (\(source.identity)).")
        }
        let progress = try await prepare(target, source: source.identity)
        return try await source.withSnapshot { reader in
            var summary = TransferSummary()
            summary.skippedRuns = Int(progress.rowsMoved["runs"] ?? 0)
            // A transfer that starts from nothing sees every source row once: its digests come free with the copy.
            let fresh = !progress.finished && progress.rowsMoved.values.allSatisfy { $0 == 0 }
            var seen: [TableDigest] = []
            if !progress.finished {
                for table in TransferCatalog.tables {
                    var after = try TransferSQL.lead(progress.leads[table.name] ?? nil, of: table)
                    let leadIndex = table.columns.firstIndex(of: table.lead) ?? 0
                    var moved = 0
                    var digest = TableDigest()
                    var rows = try await reader.rows(TransferSQL.page(table, after: after, limit: max(1, pageRows / table.rowWeight)))
                    while let last = rows.last {
                        after = last.values.indices.contains(leadIndex) ? last.values[leadIndex] : nil
                        // The next page is read while this one is written.
                        let next = after
                        async let following = reader.rows(TransferSQL.page(table, after: next, limit: max(1, pageRows / table.rowWeight)))
                        let advance = TransferSQL.advance(source: progress.source, table: table, rows: rows.count, lead: after)
                        try await target.insert(table, columns: table.columns, rows: rows.map(\.values), then: [advance])
                        if fresh { digest.add(rows) }
                        moved += rows.count
                        summary.count(rows.map(\.values), of: table, columns: table.columns)
                        try onPage(table.name, moved)
                        rows = try await following
                    }
                    seen.append(digest)
                }
                _ = try await target.write(TransferSQL.finish(source: progress.source, now: target.clock()), idempotent: true)
            }
            let expected = fresh ? seen : try await digests(reader)
            let found = try await target.withSnapshot { try await digests($0) }
            try compare(expected, found, target: target.identity)
            summary.verified = true
            return summary
        }
    }

    /// The digest of each of `tables` on `reader`'s snapshot.
    public static func digests(_ reader: SnapshotReader, of tables: [TransferTable] = TransferCatalog.tables) async throws -> [TableDigest] {
        var result: [TableDigest] = []
        for table in tables { result.append(try await reader.digest(of: table)) }
        return result
    }

    /// Calls `body` with each page of `table`, in lead order.
    public static func pages(of table: TransferTable, _ reader: SnapshotReader, _ body: ([SQLRow]) async throws -> Void) async throws {
        let leadIndex = table.columns.firstIndex(of: table.lead) ?? 0
        var after: SQLValue?
        while true {
            let rows = try await reader.rows(TransferSQL.page(table, after: after, limit: max(1, pageRows / table.rowWeight)))
            guard let last = rows.last else { return }
            after = last.values.indices.contains(leadIndex) ? last.values[leadIndex] : nil
            try await body(rows)
        }
    }

    /// Refuses a target whose tables differ from what was expected, naming the first table that differs.
    public static func compare(_ expected: [TableDigest], _ found: [TableDigest], target: String) throws(LedgerError) {
        for (index, table) in TransferCatalog.tables.enumerated() where expected[index] != found[index] {
            throw LedgerError(
                .internal,
                "Verification failed: table \(table.name) of \(target) holds \(found[index].rows) rows (digest \(found[index].hex)), the source \(expected[index].rows) (digest \(expected[index].hex)). Did the source change between attempts? Copy again into an empty database."
            )
        }
    }

    /// The newest migration applied to the database `reader` reads.
    public static func schemaVersion(_ reader: SnapshotReader) async throws -> Int {
        Int(try await reader.rows("SELECT max(version) FROM runledger_schema_history").first?.optionalInt64(0) ?? 0)
    }
}

/// A restore: an archive's rows into a store, page by page, skipping what an interrupted attempt already wrote, then
/// compared with the archive's rows. The caller reads the file (and has checked it whole first).
public struct ArchiveLoad: Sendable {
    private let target: any RelationalStore
    private let header: ArchiveHeader
    private let source: String
    private var skip: [String: Int64]
    private var moved: [String: Int] = [:]
    /// Whether rows are still to be written (false when an earlier attempt finished).
    public let isPending: Bool
    public private(set) var summary = TransferSummary()

    /// Prepares `target` (empty, or holding an interrupted restore of the same archive).
    public init(into target: any RelationalStore, header: ArchiveHeader, trailer: ArchiveTrailer) async throws {
        var identity = FNV64()
        identity.add(UInt64(bitPattern: header.createdAt))
        identity.add(UInt64(trailer.frames))
        for table in trailer.tables {
            identity.add(bytes: table.name.utf8)
            identity.add(bytes: table.digest.utf8)
        }
        source = "archive:" + String(identity.finalized, radix: 16)
        let progress = try await Transfer.prepare(target, source: source)
        self.target = target
        self.header = header
        skip = progress.rowsMoved
        isPending = !progress.finished
        summary.skippedRuns = Int(progress.rowsMoved["runs"] ?? 0)
    }

    /// Writes one frame's rows (of the header's table `index`); returns the table and its rows written so far.
    public mutating func load(table index: Int, _ rows: [[SQLValue?]]) async throws -> (table: String, rows: Int)? {
        guard isPending, header.tables.indices.contains(index), let table = TransferCatalog.table(named: header.tables[index].name) else {
            return nil
        }
        // Pages were committed whole, so an earlier attempt stopped on a frame boundary.
        let already = max(0, skip[table.name] ?? 0)
        guard already < Int64(rows.count) else {
            skip[table.name] = already - Int64(rows.count)
            return nil
        }
        let fresh = Array(rows.dropFirst(Int(already)))
        skip[table.name] = 0
        let advance = TransferSQL.advance(source: source, table: table, rows: fresh.count, lead: nil)
        try await target.insert(table, columns: header.tables[index].columns, rows: fresh, then: [advance])
        summary.count(fresh, of: table, columns: header.tables[index].columns)
        moved[table.name, default: 0] += fresh.count
        return (table.name, moved[table.name] ?? 0)
    }

    /// Ends the restore and compares every table of the target with `contents`: the digests of the archive's rows
    /// (``ArchiveDecoder/contents``, from a pass that found the whole file intact), over the header's columns.
    public mutating func finish(expecting contents: [TableDigest]) async throws -> TransferSummary {
        if isPending { _ = try await target.write(TransferSQL.finish(source: source, now: target.clock()), idempotent: true) }
        var tables: [TransferTable] = []
        var expected: [TableDigest] = []
        for var table in TransferCatalog.tables {
            // A table the archive does not hold must have stayed empty.
            if let index = header.tables.firstIndex(where: { $0.name == table.name }) {
                table.columns = header.tables[index].columns
                expected.append(contents.indices.contains(index) ? contents[index] : TableDigest())
            } else {
                expected.append(TableDigest())
            }
            tables.append(table)
        }
        let found = try await target.withSnapshot { [tables] in try await Transfer.digests($0, of: tables) }
        for (index, table) in tables.enumerated() where expected[index] != found[index] {
            throw LedgerError(
                .internal,
                "Verification failed: table \(table.name) holds \(found[index].rows) rows, the archive \(expected[index].rows). Restore again into an empty database."
            )
        }
        summary.verified = true
        return summary
    }
}
