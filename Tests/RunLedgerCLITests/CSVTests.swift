import LedgerCore
@testable import runledger
import Testing

@Suite("CSV export")
struct CSVTests {
    @Test("hostile values (commas, quotes, line breaks, edge spaces, markup) survive RFC 4180 quoting unchanged")
    func hostileValues() {
        let hostile = ["a,b", "say \"hi\"", "line\nbreak", "cr\r\nlf", " padded ", "<script>alert(1)</script>", "=SUM(A1)", "", "é,ü"]
        let runs = hostile.enumerated().map { index, text in
            Run(
                info: RunInfo(
                    runID: RunID(String(repeating: String(index), count: 32))!, experimentID: ExperimentID(1), name: text, status: .finished,
                    startTime: Int64(index), endTime: nil, lifecycleStage: .active, userID: "", artifactURI: ""
                ),
                params: ["p,q": text], tags: ["t": text],
                latestMetrics: ["m": MetricPoint(value: index == 0 ? .nan : Double(index), timestamp: 0, step: 0)]
            )
        }
        let rows = parseCSV(runsCSV(runs))
        #expect(rows[0] == ["run_id", "run_name", "status", "start_time", "end_time", "params.p,q", "metrics.m", "tags.t"])
        #expect(rows.count == hostile.count + 1)
        for (index, text) in hostile.enumerated() {
            #expect(rows[index + 1][1] == text && rows[index + 1][5] == text && rows[index + 1][7] == text, "row \(index): \(rows[index + 1])")
        }
        #expect(rows[1][6] == "NaN")
        #expect(rows[1][4] == "", "a missing end time is an empty field")
    }
}
