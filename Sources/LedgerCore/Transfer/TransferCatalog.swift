/// One table as a copy, backup or restore moves it: its columns in a fixed order and the column it is paged by.
///
/// Both backends hold the same tables with the same column names (the golden schemas show it), so a row read from one
/// can be written to the other unchanged.
public struct TransferTable: Sendable, Equatable {
    /// The table's name (a constant, never user input).
    public var name: String
    /// Every column that holds data, in SELECT order.
    public var columns: [String]
    /// The column pages are cut by: rows with the same value always travel in the same page and transaction.
    public var lead: String
    /// Whether ``lead`` holds text (otherwise an integer).
    public var leadIsText: Bool
    /// A PostgreSQL identity column whose sequence must continue after the copied rows.
    public var identity: String?
    /// How many ordinary rows one of this table's rows weighs: a page holds that many times fewer of them.
    public var rowWeight: Int

    public init(_ name: String, _ columns: [String], lead: String, leadIsText: Bool = false, identity: String? = nil, rowWeight: Int = 1) {
        self.name = name
        self.columns = columns
        self.lead = lead
        self.leadIsText = leadIsText
        self.identity = identity
        self.rowWeight = rowWeight
    }
}

/// The tables a transfer moves, parents before children so that foreign keys hold at every commit.
///
/// The migration history and the transfer progress table are left out: each database keeps its own.
public enum TransferCatalog {
    public static let tables: [TransferTable] = [
        TransferTable(
            "experiments", ["experiment_id", "name", "artifact_location", "lifecycle_stage", "creation_time", "last_update_time"],
            lead: "experiment_id", identity: "experiment_id"),
        TransferTable("experiment_tags", ["experiment_id", "key", "value"], lead: "experiment_id"),
        TransferTable(
            "runs",
            [
                "id", "run_uuid", "experiment_id", "name", "status", "start_time", "end_time", "lifecycle_stage", "user_id", "artifact_uri",
                "heartbeat_time", "deleted_time",
            ], lead: "id", identity: "id"),
        TransferTable("params", ["run_id", "key", "value"], lead: "run_id"),
        TransferTable("tags", ["run_id", "key", "value"], lead: "run_id"),
        TransferTable(
            "metric_chunks",
            [
                "chunk_id", "run_id", "key", "first_step", "first_timestamp", "last_step", "last_timestamp", "min_timestamp", "max_timestamp",
                "point_count", "nan_count", "value_min", "value_max", "value_sum", "last_value", "data",
            ], lead: "run_id", identity: "chunk_id", rowWeight: 50),
        TransferTable("latest_metrics", ["run_id", "experiment_id", "key", "step", "timestamp", "value", "is_nan"], lead: "run_id"),
        TransferTable(
            "run_events", ["event_id", "run_id", "timestamp", "level", "kind", "message", "payload"], lead: "event_id", identity: "event_id"),
        TransferTable(
            "logged_models",
            [
                "model_id", "experiment_id", "name", "model_type", "source_run_id", "status", "status_message", "artifact_uri", "lifecycle_stage",
                "creation_time", "last_update_time",
            ], lead: "model_id", leadIsText: true),
        TransferTable("logged_model_params", ["model_id", "key", "value"], lead: "model_id", leadIsText: true),
        TransferTable("logged_model_tags", ["model_id", "key", "value"], lead: "model_id", leadIsText: true),
        TransferTable(
            "run_inputs", ["run_id", "position", "model_id", "name", "digest", "source_type", "source", "schema", "profile", "tags"], lead: "run_id"),
        TransferTable("run_outputs", ["run_id", "model_id", "step"], lead: "run_id"),
        TransferTable(
            "retention_policies", ["policy_id", "experiment_id", "key_glob", "max_age_ms", "max_points_per_key", "created_at"], lead: "policy_id",
            identity: "policy_id"),
        TransferTable("projects", ["project_id", "name", "created_at", "last_active_at", "archived"], lead: "project_id", identity: "project_id"),
        TransferTable("state_documents", ["project_id", "namespace", "version", "updated_at", "document"], lead: "project_id"),
        TransferTable("applied_batches", ["batch_id", "applied_at"], lead: "batch_id", leadIsText: true),
    ]

    /// The table called `name`, if a transfer moves it.
    public static func table(named name: String) -> TransferTable? { tables.first { $0.name == name } }
}

/// The statements a transfer runs, written once for both dialects.
public enum TransferSQL {
    /// The next page of `table` after lead value `after` (nil: from the start): whole lead groups, at least `limit`
    /// rows unless the table ends first, in lead order.
    public static func page(_ table: TransferTable, after: SQLValue?, limit: Int) -> SQLTemplate {
        let columns = table.columns.joined(separator: ", ")
        let lead = table.lead
        let rest: SQLTemplate = after.map { "WHERE \(raw: lead) > \(bound: $0)" } ?? ""
        let restAgain: SQLTemplate = after.map { "AND \(raw: lead) > \(bound: $0)" } ?? ""
        return """
            SELECT \(raw: columns) FROM \(raw: table.name)
            WHERE \(raw: lead) <= (SELECT max(\(raw: lead)) FROM (SELECT \(raw: lead) FROM \(raw: table.name) \(rest)
                ORDER BY \(raw: lead) LIMIT \(limit)) AS page) \(restAgain)
            ORDER BY \(raw: lead)
            """
    }

    /// A lead value as the progress table keeps it (text), read back with ``lead(_:of:)``.
    public static func leadText(_ value: SQLValue?) -> String? {
        switch value {
        case .integer(let number)?: String(number)
        case .text(let text)?: text
        default: nil
        }
    }

    /// The lead value a progress row recorded, typed for `table`.
    public static func lead(_ text: String?, of table: TransferTable) throws(LedgerError) -> SQLValue? {
        guard let text else { return nil }
        if table.leadIsText { return .text(text) }
        guard let number = Int64(text) else {
            throw LedgerError(.invalidState, "The transfer progress of table \(table.name) is damaged (\(text)); start again into an empty database.")
        }
        return .integer(number)
    }

    /// Whether the database holds anything beyond what migrations create (the Default experiment).
    public static let contentProbe: SQLTemplate = """
        SELECT (SELECT count(*) FROM experiments WHERE experiment_id <> 0) + (SELECT count(*) FROM experiment_tags)
            + (SELECT count(*) FROM runs) + (SELECT count(*) FROM projects) + (SELECT count(*) FROM retention_policies)
            + (SELECT count(*) FROM logged_models) + (SELECT count(*) FROM applied_batches)
        """

    /// The transfers recorded in a database: source, table, rows moved, lead reached, finished time.
    public static let progress: SQLTemplate =
        "SELECT source, table_name, rows_moved, after_lead, finished_at FROM runledger_transfers ORDER BY source, table_name"

    /// Starts a transfer into an empty database: the Default experiment the migrations made gives way to the source's.
    public static func begin(source: String, now: Int64) -> [StoreSQL.Step] {
        [
            .run("DELETE FROM experiment_tags WHERE experiment_id = 0"),
            .run("DELETE FROM experiments WHERE experiment_id = 0"),
            .run("DELETE FROM runledger_transfers"),
        ]
            + TransferCatalog.tables.map { table in
                .run(
                    """
                    INSERT INTO runledger_transfers (source, table_name, rows_moved, after_lead, started_at, finished_at)
                    VALUES (\(source), \(table.name), 0, NULL, \(now), NULL)
                    """)
            }
    }

    /// Records a page as moved, in the transaction that wrote it.
    public static func advance(source: String, table: TransferTable, rows: Int, lead: SQLValue?) -> SQLTemplate {
        """
        UPDATE runledger_transfers SET rows_moved = rows_moved + \(rows), after_lead = \(leadText(lead))
        WHERE source = \(source) AND table_name = \(table.name)
        """
    }

    /// Ends a transfer: identity sequences continue after the copied ids (PostgreSQL), and the progress says so.
    public static func finish(source: String, now: Int64) -> [StoreSQL.Step] {
        TransferCatalog.tables.compactMap { table in
            table.identity.map { column in
                .run(
                    """
                    SELECT \(sqlite: "1", postgres: "setval(pg_get_serial_sequence('\(table.name)', '\(column)'), greatest(max(\(column)), 1), max(\(column)) >= 1)") FROM \(raw: table.name)
                    """)
            }
        } + [.run("UPDATE runledger_transfers SET finished_at = \(now) WHERE source = \(source)")]
    }
}

extension SQLTemplate.StringInterpolation {
    /// A value of any kind, bound.
    public mutating func appendInterpolation(bound value: SQLValue) {
        switch value {
        case .integer(let number): appendInterpolation(number)
        case .real(let number): appendInterpolation(number)
        case .text(let text): appendInterpolation(text)
        case .blob(let data): appendInterpolation(data)
        case .null: appendInterpolation(nil as Int64?)
        }
    }
}

extension TransferTable {
    /// Refuses columns this table does not have (an archive names its columns; they are spliced into SQL).
    public func check(_ names: [String]) throws(LedgerError) {
        for name in names where !columns.contains(name) {
            throw LedgerError(
                .invalidArchive,
                "Table \(self.name) has no column \(name); the data comes from a newer RunLedger. Restore it with that release.")
        }
    }

    /// A row with more or fewer values than columns.
    public static func widthMismatch(_ table: TransferTable) -> LedgerError {
        LedgerError(.invalidArchive, "A row of table \(table.name) does not have one value per column.")
    }
}
