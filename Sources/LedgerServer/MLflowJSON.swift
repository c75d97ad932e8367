import LedgerCore

extension MLflowJSON {
    /// One group of `runs/statistics` (a RunLedger route, in MLflow's conventions).
    static func groupStatistics(_ row: GroupSummary) -> JSONValue {
        let s = row.summary
        return .object([
            ("group", row.group.map(JSONValue.string) ?? .null), ("count", .integer(Int64(s.count))), ("mean", .number(s.mean)),
            ("stddev", .number(s.stddev)),
            ("min", .number(s.min)), ("max", .number(s.max)), ("p50", .number(s.p50)), ("p90", .number(s.p90)), ("p99", .number(s.p99)),
        ])
    }
}
