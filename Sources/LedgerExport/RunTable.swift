import Foundation
public import LedgerCore

/// Runs as a table of typed cells: the one shape that CSV and XLSX exports, the CLI and the server share.
///
/// ```swift
/// let table = try RunTable(runs, columns: ["run_name", "params.solver_type", "metrics.total_cost"])
/// let text = table.csv()
/// let workbook = try table.xlsx()
/// ```
public struct RunTable: Sendable {
    /// One value, typed so that a spreadsheet gets numbers where the store has numbers.
    public enum Cell: Sendable, Equatable {
        case text(String)
        case integer(Int64)
        case number(Double)
        case empty
    }

    /// The run attributes a table can show besides `params.K`, `metrics.K` and `tags.K`.
    public static let attributes = ["run_id", "run_name", "status", "experiment_id", "user_id", "lifecycle_stage", "start_time", "end_time"]

    public let columns: [String]
    public let rows: [[Cell]]

    /// A table of `runs` with `columns` in order; an unknown column is an error that names it.
    public init(_ runs: [Run], columns: [String]) throws(LedgerError) {
        self.init(runs, layout: try Layout(columns: columns))
    }

    /// A table of `runs` with run_id, run_name, status, start_time, end_time and then every params.K, metrics.K
    /// (latest values) and tags.K that any run has, each sorted by key.
    public init(_ runs: [Run]) {
        var keys = Layout.Keys()
        for run in runs { keys.add(run) }
        self.init(runs, layout: Layout(defaultFor: keys))
    }

    /// A table of `runs` in `layout`.
    public init(_ runs: [Run], layout: Layout) {
        self.columns = layout.names
        self.rows = runs.map(layout.cells)
    }

    /// The default columns' names (see ``init(_:)``).
    public static func defaultColumns(_ runs: [Run]) -> [String] { RunTable(runs).columns }

    /// Which columns a table has, apart from its rows: what an export that streams its rows decides first.
    public struct Layout: Sendable {
        private let columns: [Column]

        /// The params, metrics and tags that runs have, gathered run by run for the default layout.
        public struct Keys: Sendable {
            var params: Set<String> = [], metrics: Set<String> = [], tags: Set<String> = []

            public init() {}

            public mutating func add(_ run: Run) {
                params.formUnion(run.params.keys)
                metrics.formUnion(run.latestMetrics.keys)
                tags.formUnion(run.tags.keys)
            }
        }

        /// `columns` in order; an unknown column, or more than ``Limits/keysPerRead``, is an error that names it.
        public init(columns: [String]) throws(LedgerError) {
            guard columns.count <= Limits.keysPerRead else {
                throw LedgerError(
                    .invalidParameterValue, "An export may have at most \(Limits.keysPerRead) columns; this one asks for \(columns.count).")
            }
            self.columns = try columns.map { column throws(LedgerError) in try Column(parsing: column) }
        }

        /// run_id, run_name, status, start_time, end_time, then every param, metric and tag in `keys`, each sorted.
        public init(defaultFor keys: Keys) {
            columns =
                ["run_id", "run_name", "status", "start_time", "end_time"].map(Column.attribute) + keys.params.sorted().map(Column.param)
                + keys.metrics.sorted().map(Column.metric) + keys.tags.sorted().map(Column.tag)
        }

        public var names: [String] { columns.map(\.name) }

        public func cells(_ run: Run) -> [Cell] { columns.map { $0.cell(of: run) } }

        /// The CSV header line.
        public var csvHeader: String { CSV.line(names) }

        /// One run as a CSV line.
        public func csvLine(_ run: Run) -> String { CSV.line(cells(run).map(\.text)) }
    }

    /// What one column shows. Keys are taken by their UTF-8 bytes, so a key that starts with a combining mark
    /// (which Swift's `Character` view would merge with the dot before it) is still the key it was stored as.
    fileprivate enum Column: Sendable {
        case attribute(String)
        case param(String)
        case metric(String)
        case tag(String)

        init(parsing column: String) throws(LedgerError) {
            if RunTable.attributes.contains(column) {
                self = .attribute(column)
                return
            }
            if let (prefix, key) = EntityName.split(column), !key.isEmpty {
                switch prefix {
                case "params":
                    self = .param(key)
                    return
                case "metrics":
                    self = .metric(key)
                    return
                case "tags":
                    self = .tag(key)
                    return
                default: break
                }
            }
            throw LedgerError(
                .invalidParameterValue,
                "Unknown column '\(column.prefix(200))': use params.KEY, metrics.KEY, tags.KEY or one of \(attributes.joined(separator: ", "))."
            )
        }

        var name: String {
            switch self {
            case .attribute(let name): name
            case .param(let key): "params." + key
            case .metric(let key): "metrics." + key
            case .tag(let key): "tags." + key
            }
        }

        func cell(of run: Run) -> Cell {
            switch self {
            case .param(let key): return run.params[key].map(Cell.text) ?? .empty
            case .metric(let key): return run.latestMetrics[key].map { .number($0.value) } ?? .empty
            case .tag(let key): return run.tags[key].map(Cell.text) ?? .empty
            case .attribute(let name):
                switch name {
                case "run_id": return .text(run.info.runID.rawValue)
                case "run_name": return .text(run.info.name)
                case "status": return .text(run.info.status.rawValue)
                case "experiment_id": return .text(run.info.experimentID.description)
                case "user_id": return .text(run.info.userID)
                case "lifecycle_stage": return .text(run.info.lifecycleStage.rawValue)
                case "start_time": return .integer(run.info.startTime)
                case "end_time": return run.info.endTime.map(Cell.integer) ?? .empty
                default: return .empty
                }
            }
        }
    }

    /// RFC 4180 text with CRLF line ends: a header line, then one line per run; numbers in their shortest exact form.
    public func csv() -> String {
        var out = CSV.line(columns)
        for row in rows {
            out += CSV.line(row.map(\.text))
        }
        return out
    }
}

extension RunTable.Cell {
    /// The cell as CSV and tables write it.
    public var text: String {
        switch self {
        case .text(let value): value
        case .integer(let value): String(value)
        case .number(let value): formatNumber(value)
        case .empty: ""
        }
    }
}

/// RFC 4180 fields and lines, safe to open in a spreadsheet.
public enum CSV {
    /// The field as CSV text. Text that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a
    /// tab or a carriage return, and is not a plain number) gets a leading `'`, as OWASP recommends against CSV
    /// injection; numbers such as `-1.5` stay as they are.
    public static func field(_ text: String) -> String {
        var text = text
        // A leading `'` is doubled too, so that ``unescape(_:)`` can tell the guard from a value's own quote.
        if let first = text.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) && Double(text) == nil || first == "'" {
            text = "'" + text
        }
        // Scalars, not Characters: "\r\n" is one Character that equals neither "\r" nor "\n".
        guard
            text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || text.hasPrefix(" ")
                || text.hasSuffix(" ")
        else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func line(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\r\n" }
}

/// Numbers as text: the shortest form that reads back to the same double; NaN and infinities spelled out.
public func formatNumber(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "Infinity" : "-Infinity" }
    return "\(value)"
}
