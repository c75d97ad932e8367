import Foundation
import LedgerCore
import LedgerExport

/// A plain-text table for people: a header, a rule, left-aligned text and right-aligned numbers.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []
    var numericColumns: Set<Int> = []

    var rendered: String {
        let widths = headers.indices.map { column in
            ([headers[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return numericColumns.contains(index) ? pad + cell : cell + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var lines = [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        lines += rows.map(line)
        return lines.joined(separator: "\n") + "\n"
    }
}

/// RFC 4180 CSV: fields with commas, quotes or line breaks are quoted, quotes doubled, lines end with CRLF.
/// A compact form of a number for tables.
func formatForTable(_ value: Double) -> String {
    if !value.isFinite { return formatNumber(value) }
    if value != 0 && (abs(value) >= 1e7 || abs(value) < 1e-3) { return String(format: "%.4g", value) }
    return String(format: "%.4f", value).replacingOccurrences(of: "\\.?0+$", with: "", options: .regularExpression)
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` in UTC.
func formatTime(_ milliseconds: Int64?) -> String {
    guard let milliseconds else { return "-" }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}

/// The text of a field in a run, for tables and CSV.
func cell(_ field: Field, of run: Run, forTable: Bool) -> String {
    switch field.value(in: run) {
    case nil: return ""
    case .number(let value):
        if field.isNumeric, case .attribute = field { return forTable ? formatTime(Int64(value)) : String(Int64(value)) }
        return forTable ? formatForTable(value) : formatNumber(value)
    case .text(let text): return text
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal so that logs stay clean.
struct ProgressBar {
    let total: Int
    let label: String
    private let interactive = isatty(2) == 1
    private var lastDrawn = -1

    init(total: Int, label: String) {
        self.total = total
        self.label = label
    }

    mutating func update(_ done: Int) {
        guard interactive else { return }
        guard total > 0 else {
            // The total is not known in advance (a paged export): show how far it got.
            writeStandardError("\r\(label) \(done)")
            return
        }
        let percent = done * 100 / total
        guard percent != lastDrawn else { return }
        lastDrawn = percent
        let width = 30
        let filled = width * done / total
        writeStandardError(
            "\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                + "] \(percent)% (\(done)/\(total))")
    }

    func finish() {
        if interactive { writeStandardError("\n") }
    }
}

extension Run {
    /// The run in the JSON shape the CLI prints: `{run_id, run_name, experiment_id, status, start_time, end_time,
    /// params, metrics (latest values), tags}`.
    var json: JSONValue {
        .object([
            ("run_id", .string(info.runID.rawValue)),
            ("run_name", .string(info.name)),
            ("experiment_id", .string(info.experimentID.description)),
            ("status", .string(info.status.rawValue)),
            ("start_time", .integer(info.startTime)),
            ("end_time", info.endTime.map { .integer($0) } ?? .null),
            ("lifecycle_stage", .string(info.lifecycleStage.rawValue)),
            ("params", .object(params.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("metrics", .object(latestMetrics.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value.value)) })),
            ("tags", .object(tags.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ])
    }
}
