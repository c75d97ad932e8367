import Foundation
import LedgerCore
import LedgerExport
import Testing

@testable import runledger

@Suite("CSV and XLSX export")
struct CSVTests {
    @Test("hostile values (commas, quotes, line breaks, edge spaces, markup) survive RFC 4180 quoting unchanged")
    func hostileValues() {
        let runs = Self.hostileRuns
        let hostile = Self.hostile
        let rows = parseCSV(RunTable(runs).csv())
        #expect(rows[0] == ["run_id", "run_name", "status", "start_time", "end_time", "params.p,q", "metrics.m", "tags.t"])
        #expect(rows.count == hostile.count + 1)
        for (index, text) in hostile.enumerated() {
            // A cell a spreadsheet would run as a formula is the one exception: it gets a leading quote.
            let expected = text.hasPrefix("=") ? "'" + text : text
            #expect(
                rows[index + 1][1] == expected && rows[index + 1][5] == expected && rows[index + 1][7] == expected, "row \(index): \(rows[index + 1])"
            )
        }
        #expect(rows[1][6] == "NaN")
        #expect(rows[1][4] == "", "a missing end time is an empty field")
    }

    static let hostile = [
        "a,b", "say \"hi\"", "line\nbreak", "cr\r\nlf", " padded ", "<script>alert(1)</script>", "=SUM(A1)", "", "é,ü", "]]></t><x>&amp;",
    ]
    static let hostileRuns = hostile.enumerated().map { index, text in
        Run(
            info: RunInfo(
                runID: RunID(String(repeating: String(index), count: 32))!, experimentID: ExperimentID(1), name: text, status: .finished,
                startTime: Int64(index), endTime: nil, lifecycleStage: .active, userID: "", artifactURI: ""
            ),
            params: ["p,q": text], tags: ["t": text],
            latestMetrics: ["m": MetricPoint(value: index == 0 ? .nan : Double(index), timestamp: 0, step: 0)]
        )
    }

    @Test("an XLSX workbook reads back with the same text, numbers as numbers, and no formula however a value starts")
    func workbook() throws {
        let rows = try XLSXReader.rows(try RunTable(Self.hostileRuns).xlsx())
        #expect(rows.count == Self.hostile.count + 1)
        #expect(rows[0].map(\.text) == ["run_id", "run_name", "status", "start_time", "end_time", "params.p,q", "metrics.m", "tags.t"])
        for (index, text) in Self.hostile.enumerated() {
            let row = rows[index + 1]
            // Empty cells are left out, as spreadsheets write them; every value here is an inline string, never a formula.
            let texts = row.filter { $0.type == "inlineStr" }.map(\.text)
            if text.isEmpty {
                #expect(!texts.contains(""), "row \(index)")
            } else {
                #expect(texts.filter { $0 == text }.count == 3, "row \(index): \(row)")
            }
            #expect(!row.contains { $0.type == "str" || $0.type == "f" })
        }
        #expect(rows[1].contains(XLSXReader.Cell(type: "inlineStr", text: "NaN")), "NaN cannot be a number in a sheet: it is text")
        #expect(rows[2].contains(XLSXReader.Cell(type: nil, text: "1.0")), "a finite metric is a number cell")
        #expect(rows[2].contains(XLSXReader.Cell(type: nil, text: "1")), "start_time is a number cell")
    }
}
