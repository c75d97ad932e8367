public import LedgerCore

/// Runs read back from a CSV file in the columns `runledger export csv` writes, so that an export re-imports to the
/// same runs (with new ids).
///
/// Columns: `run_name`, `status`, `start_time`, `end_time`, `user_id`, `params.K`, `metrics.K`, `tags.K`; `run_id`,
/// `experiment_id` and `lifecycle_stage` are accepted and ignored. An empty cell means "not set". Every row is checked
/// before any is returned: a bad one is an error naming its line.
public struct RunImport: Sendable {
    public struct Row: Sendable, Equatable {
        /// The line of the file the row starts on (1-based, the header is line 1).
        public var line: Int
        public var name: String
        public var status: RunStatus
        public var startTime: Int64?
        public var endTime: Int64?
        public var userID: String
        public var params: [KeyValue]
        public var metrics: [(key: String, value: Double)]
        public var tags: [KeyValue]

        public static func == (a: Row, b: Row) -> Bool {
            a.line == b.line && a.name == b.name && a.status == b.status && a.startTime == b.startTime && a.endTime == b.endTime
                && a.userID == b.userID && a.params == b.params && a.tags == b.tags && a.metrics.map(\.key) == b.metrics.map(\.key)
                && zip(a.metrics, b.metrics).allSatisfy { $0.value.bitPattern == $1.value.bitPattern || ($0.value.isNaN && $1.value.isNaN) }
        }
    }

    public let rows: [Row]

    private enum Column {
        case ignored, name, status, startTime, endTime, userID
        case param(String)
        case metric(String)
        case tag(String)
    }

    /// Reads `text` (RFC 4180, CRLF or LF line ends).
    public init(csv text: String) throws(LedgerError) {
        let records = try CSVReader.records(text)
        guard let (_, header) = records.first else { throw LedgerError(.invalidParameterValue, "The CSV file is empty: it needs a header line.") }
        var seen: Set<String> = []
        let columns = try header.map { name throws(LedgerError) -> Column in
            guard seen.insert(name).inserted else { throw LedgerError(.invalidParameterValue, "Line 1: column '\(name.prefix(200))' appears twice.") }
            switch name {
            case "run_id", "experiment_id", "lifecycle_stage": return .ignored
            case "run_name": return .name
            case "status": return .status
            case "start_time": return .startTime
            case "end_time": return .endTime
            case "user_id": return .userID
            default:
                if let (prefix, key) = EntityName.split(name), !key.isEmpty {
                    switch prefix {
                    case "params": return .param(key)
                    case "metrics": return .metric(key)
                    case "tags": return .tag(key)
                    default: break
                    }
                }
                throw LedgerError(
                    .invalidParameterValue,
                    "Line 1: unknown column '\(name.prefix(200))'. Use run_name, status, start_time, end_time, user_id, params.KEY, metrics.KEY or tags.KEY."
                )
            }
        }
        var rows: [Row] = []
        for (line, fields) in records.dropFirst() {
            guard fields.count == columns.count else {
                throw LedgerError(.invalidParameterValue, "Line \(line): \(fields.count) fields, but the header has \(columns.count).")
            }
            var row = Row(line: line, name: "", status: .finished, userID: "", params: [], metrics: [], tags: [])
            for (column, raw) in zip(columns, fields) where !raw.isEmpty {
                let text = CSV.unescape(raw)
                func fail(_ what: String) -> LedgerError { LedgerError(.invalidParameterValue, "Line \(line): \(what).") }
                switch column {
                case .ignored: break
                case .name: row.name = text
                case .status:
                    guard let status = RunStatus(rawValue: text) else {
                        throw fail("status '\(text.prefix(100))' is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED")
                    }
                    row.status = status
                case .startTime:
                    guard let time = Int64(text) else { throw fail("start_time '\(text.prefix(100))' is not milliseconds since the epoch") }
                    row.startTime = time
                case .endTime:
                    guard let time = Int64(text) else { throw fail("end_time '\(text.prefix(100))' is not milliseconds since the epoch") }
                    row.endTime = time
                case .userID: row.userID = text
                case .param(let key): row.params.append(KeyValue(key, text))
                case .tag(let key): row.tags.append(KeyValue(key, text))
                case .metric(let key):
                    guard let value = Double(raw) else { throw fail("metrics.\(key) '\(raw.prefix(100))' is not a number") }
                    row.metrics.append((key, value))
                }
            }
            do {
                try Self.check(row)
            } catch {
                throw LedgerError(error.code, "Line \(line): \(error.message)")
            }
            rows.append(row)
        }
        self.rows = rows
    }

    /// The store's own rules, applied before anything is written.
    private static func check(_ row: Row) throws(LedgerError) {
        try Validation.checkRunName(row.name)
        try Validation.checkNoNUL(row.userID, field: "user_id")
        for param in row.params {
            try Validation.checkKey(param.key, kind: "Param")
            try Validation.checkNoNUL(param.value, field: "the value of param '\(param.key)'")
        }
        for tag in row.tags { try Validation.checkKey(tag.key, kind: "Tag") }
        for metric in row.metrics { try Validation.checkKey(metric.key, kind: "Metric") }
    }

    /// The rows as one batch, so that the file is written in one transaction or not at all. Metrics become one point
    /// each at step 0, timed at the run's end (else its start).
    public func batch(experimentName: String, now: Int64) -> WriteBatch {
        var operations: [WriteOperation] = []
        for row in rows {
            let runID = RunID.random()
            let start = row.startTime ?? now
            operations.append(
                .createRun(
                    NewRun(runID: runID, experimentName: experimentName, name: row.name, status: .running, startTime: start, userID: row.userID)))
            if !row.params.isEmpty { operations.append(.logParams(runID, row.params)) }
            if !row.tags.isEmpty { operations.append(.setTags(runID, row.tags)) }
            if !row.metrics.isEmpty {
                let time = row.endTime ?? start
                operations.append(.logMetrics(runID, row.metrics.map { Metric(key: $0.key, value: $0.value, timestamp: time, step: 0) }))
            }
            operations.append(.updateRun(runID, RunUpdate(status: row.status, endTime: row.status.isTerminal ? row.endTime : nil)))
        }
        return WriteBatch(operations)
    }
}

/// Splits RFC 4180 text into records, each with the line it starts on.
enum CSVReader {
    static func records(_ text: String) throws(LedgerError) -> [(line: Int, fields: [String])] {
        var records: [(Int, [String])] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var quoted = false
        var wasQuoted = false
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        var index = 0
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            wasQuoted = false
        }
        func endRecord() {
            endField()
            // A blank line (one empty, unquoted field) is not a record.
            if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }
            fields.removeAll()
        }
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                guard field.isEmpty, !wasQuoted else {
                    throw LedgerError(.invalidParameterValue, "Line \(line): a quote inside an unquoted field; quote the field and double the quote.")
                }
                quoted = true
                wasQuoted = true
            case UInt8(ascii: ","): endField()
            case UInt8(ascii: "\r") where index < bytes.count && bytes[index] == UInt8(ascii: "\n"): break
            case UInt8(ascii: "\n"):
                endRecord()
                line += 1
                recordLine = line
            default:
                guard !wasQuoted else { throw LedgerError(.invalidParameterValue, "Line \(line): text after a closing quote.") }
                field.append(byte)
            }
        }
        if quoted { throw LedgerError(.invalidParameterValue, "Line \(recordLine): a quoted field is never closed.") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { endRecord() }
        return records
    }
}

extension CSV {
    /// Undoes ``field(_:)``'s guard against spreadsheet formulas: one leading `'` before a formula character or
    /// another `'` goes.
    public static func unescape(_ text: String) -> String {
        guard text.hasPrefix("'"), let second = text.unicodeScalars.dropFirst().first, ["=", "+", "-", "@", "\t", "\r", "'"].contains(second)
        else { return text }
        return String(text.dropFirst())
    }
}
