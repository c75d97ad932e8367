import LedgerCore
import Testing

@Suite("Artifact paths")
struct ArtifactPathTests {
    @Test(
        "every spelling that could leave the root is refused, after percent-decoding",
        arguments: [
            "..", "../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/./b", "a\\b", "..\\x", "C:", "C:/x", "a\u{0}b", "a\nb", "a#b",
            String(repeating: "a", count: 256), String(repeating: "a/", count: 600),
        ]
    )
    func refused(_ text: String) {
        #expect(throws: LedgerError.self) { try ArtifactPath(validating: text) }
    }

    @Test(
        "percent-encoded traversals decode before they are checked; a malformed escape is refused",
        arguments: ["%2e%2e", "%2E%2E%2Fx", "a%2F..%2F..%2Fx", "%2Fetc", "..%5cx", "a%00b", "%zz", "%2", "%C3"]
    )
    func refusedEncoded(_ text: String) {
        #expect(throws: LedgerError.self) { try ArtifactPath(percentEncoded: text) }
    }

    @Test("ordinary names keep their components, spaces and non-ASCII letters included")
    func accepted() throws {
        #expect(try ArtifactPath(validating: "1/abc/artifacts/plots and tables/résumé ø.txt").components.count == 5)
        #expect(try ArtifactPath(percentEncoded: "a/b%20c/%C3%A9.txt").components == ["a", "b c", "é.txt"])
        #expect(try ArtifactPath(validating: "a/b/").components == ["a", "b"])
        #expect(try ArtifactPath(validating: "").isRoot)
        // A component that merely contains dots is a name.
        #expect(try ArtifactPath(validating: "..x/x..").components == ["..x", "x.."])
        let path = try ArtifactPath(validating: "0/run/artifacts/model")
        let run = try ArtifactPath(validating: "0/run")
        #expect(path.parent.description == "0/run/artifacts" && path.name == "model" && path.isWithin(run) && !run.isWithin(path))
    }

    @Test("an mlflow-artifacts location names its folder; other locations are not served")
    func locations() throws {
        #expect(ArtifactPath(location: "mlflow-artifacts:/3/abc/artifacts")?.description == "3/abc/artifacts")
        #expect(ArtifactPath(location: "mlflow-artifacts://host:5000/3/abc/artifacts")?.description == "3/abc/artifacts")
        #expect(ArtifactPath(location: "mlflow-artifacts:/0")?.description == "0")
        #expect(ArtifactPath(location: "s3://bucket/x") == nil)
        #expect(ArtifactPath(location: "mlflow-artifacts:/../x") == nil)
        #expect(ArtifactPath(location: "") == nil)
    }
}
