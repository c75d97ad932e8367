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
        let readers = try columns.map { column throws(LedgerError) in try Self.reader(column) }
        self.columns = columns
        self.rows = runs.map { run in readers.map { $0(run) } }
    }

    /// A table of `runs` with run_id, run_name, status, start_time, end_time and then every params.K, metrics.K
    /// (latest values) and tags.K that any run has, each sorted by key.
    public init(_ runs: [Run]) {
        // Every default column is known.
        self = try! RunTable(runs, columns: Self.defaultColumns(runs))
    }

    public static func defaultColumns(_ runs: [Run]) -> [String] {
        let params = Set(runs.flatMap(\.params.keys)).sorted().map { "params.\($0)" }
        let metrics = Set(runs.flatMap(\.latestMetrics.keys)).sorted().map { "metrics.\($0)" }
        let tags = Set(runs.flatMap(\.tags.keys)).sorted().map { "tags.\($0)" }
        return ["run_id", "run_name", "status", "start_time", "end_time"] + params + metrics + tags
    }

    private static func reader(_ column: String) throws(LedgerError) -> @Sendable (Run) -> Cell {
        @Sendable func text(_ value: String?) -> Cell { value.map(Cell.text) ?? .empty }
        switch column {
        case "run_id": return { .text($0.info.runID.rawValue) }
        case "run_name": return { .text($0.info.name) }
        case "status": return { .text($0.info.status.rawValue) }
        case "experiment_id": return { .text($0.info.experimentID.description) }
        case "user_id": return { .text($0.info.userID) }
        case "lifecycle_stage": return { .text($0.info.lifecycleStage.rawValue) }
        case "start_time": return { .integer($0.info.startTime) }
        case "end_time": return { $0.info.endTime.map(Cell.integer) ?? .empty }
        default: break
        }
        for prefix in ["params.", "metrics.", "tags."] where column.hasPrefix(prefix) && column.count > prefix.count {
            let key = String(column.dropFirst(prefix.count))
            switch prefix {
            case "params.": return { text($0.params[key]) }
            case "metrics.": return { $0.latestMetrics[key].map { Cell.number($0.value) } ?? .empty }
            default: return { text($0.tags[key]) }
            }
        }
        throw LedgerError(
            .invalidParameterValue,
            "Unknown column '\(column.prefix(200))': use params.KEY, metrics.KEY, tags.KEY or one of \(attributes.joined(separator: ", "))."
        )
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

/// RFC 4180 fields and lines.
public enum CSV {
    public static func field(_ text: String) -> String {
        // Scalars, not Characters: "\r\n" is one Character that equals neither "\r" nor "\n".
        guard text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || text.hasPrefix(" ")
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
