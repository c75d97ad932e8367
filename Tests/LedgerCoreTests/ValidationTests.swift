import LedgerCore
import Testing

@Suite("Validation and limits")
struct ValidationTests {
    @Test("keys follow MLflow's rules", arguments: ["total_cost", "a/b", "x.y-z", "with space", "k:1", "émissions"])
    func validKeys(key: String) throws { try Validation.checkKey(key, kind: "Metric") }

    @Test(
        "bad keys are refused with a message naming the key",
        arguments: ["", "../x", "/abs", "a//b", "a/", "semi;colon", "quote'", String(repeating: "k", count: 251)])
    func invalidKeys(key: String) {
        #expect(throws: LedgerError.self) { try Validation.checkKey(key, kind: "Param") }
    }

    @Test("over-long param and tag values are truncated with a warning, as MLflow's server does")
    func truncation() throws {
        let batch = WriteBatch([
            .logParams(RunID.random(), [KeyValue("p", String(repeating: "v", count: 6005))]),
            .setTags(RunID.random(), [KeyValue("t", String(repeating: "w", count: 8001))]),
        ])
        let (validated, warnings) = try batch.validated()
        guard case .logParams(_, let params) = validated.operations[0], case .setTags(_, let tags) = validated.operations[1] else {
            Issue.record("operations changed shape")
            return
        }
        #expect(params[0].value.count == 6000)
        #expect(tags[0].value.count == 8000)
        #expect(warnings.count == 2)
        #expect(warnings[0].contains("6005 characters") && warnings[0].contains("6000"))
    }

    @Test("batch counts over MLflow's limits are refused, naming the limit")
    func batchLimits() throws {
        try Limits.checkBatchCounts(metrics: 1000, params: 0, tags: 0)
        try Limits.checkBatchCounts(metrics: 800, params: 100, tags: 100)
        for (metrics, params, tags, limit) in [
            (1001, 0, 0, "1000 metrics"), (0, 101, 0, "100 params"), (0, 0, 101, "100 tags"), (900, 100, 1, "1000 metrics, params, and tags"),
        ] {
            #expect {
                try Limits.checkBatchCounts(metrics: metrics, params: params, tags: tags)
            } throws: { ($0 as! LedgerError).message.contains("at most \(limit)") }
        }
    }

    @Test("run ids are 32 hex characters")
    func runIDs() {
        #expect(RunID("0123456789ABCDEF0123456789abcdef")?.rawValue == "0123456789abcdef0123456789abcdef")
        #expect(RunID("xyz") == nil)
        #expect(RunID(String(repeating: "g", count: 32)) == nil)
        #expect(RunID.random().rawValue.count == 32)
    }
}
