import LedgerCore
import Testing

@Suite("Migration planning")
struct MigrationPlanTests {
    func file(_ name: String, _ sql: String = "SELECT 1;") throws -> MigrationFile { try MigrationFile(filename: name, contents: sql) }

    func applied(_ file: MigrationFile, checksum: String? = nil) -> AppliedMigration {
        AppliedMigration(version: file.version, name: file.name, checksum: checksum ?? file.checksum, appliedAt: 1, durationMilliseconds: 0)
    }

    @Test("pending files are applied in version order; a fully applied database has nothing to do")
    func pendingInOrder() throws {
        let files = [try file("0002_b.sql"), try file("0001_a.sql"), try file("0010_c.sql")]
        #expect(try MigrationPlan.make(available: files, applied: [], historyTable: "h").pending.map(\.version) == [1, 2, 10])
        #expect(try MigrationPlan.make(available: files, applied: files.map { applied($0) }, historyTable: "h").pending.isEmpty)
    }

    @Test("two files with the same version are refused, naming both")
    func duplicateVersions() throws {
        let files = [try file("003_agent_metrics.sql"), try file("003_victron_schema.sql")]
        #expect {
            try MigrationPlan.make(available: files, applied: [], historyTable: "h")
        } throws: { error in
            let error = error as! LedgerError
            return error.code == .migrationConflict && error.message.contains("003_agent_metrics.sql")
                && error.message.contains("003_victron_schema.sql")
        }
    }

    @Test("an applied file edited afterwards is refused")
    func editedFile() throws {
        let original = try file("0001_a.sql", "CREATE TABLE a (x);")
        let edited = try file("0001_a.sql", "CREATE TABLE a (x, y);")
        #expect(original.checksum != edited.checksum)
        #expect {
            try MigrationPlan.make(available: [edited], applied: [applied(original)], historyTable: "h")
        } throws: { ($0 as! LedgerError).code == .migrationConflict && ($0 as! LedgerError).message.contains("was edited") }
    }

    @Test("a schema newer than the binary is refused as too new")
    func newerSchema() throws {
        let one = try file("0001_a.sql")
        let future = AppliedMigration(version: 7, name: "future", checksum: "x", appliedAt: 1, durationMilliseconds: 0)
        #expect {
            try MigrationPlan.make(available: [one], applied: [applied(one), future], historyTable: "h")
        } throws: { ($0 as! LedgerError).code == .schemaTooNew }
    }

    @Test("a new file numbered below an applied one is refused")
    func outOfOrder() throws {
        let one = try file("0001_a.sql")
        let three = try file("0003_c.sql")
        let two = try file("0002_b.sql")
        #expect {
            try MigrationPlan.make(available: [one, two, three], applied: [applied(one), applied(three)], historyTable: "h")
        } throws: { ($0 as! LedgerError).code == .migrationConflict && ($0 as! LedgerError).message.contains("0002_b.sql") }
    }

    @Test("file names must be NNNN_description.sql")
    func fileNames() throws {
        #expect(try file("0042_add_things.sql").version == 42)
        #expect(try file("0042_add_things.sql").name == "add_things")
        #expect(throws: LedgerError.self) { try file("add_things.sql") }
        #expect(throws: LedgerError.self) { try file("0001_a.txt") }
    }

    @Test("SHA-256 matches the standard test vectors")
    func sha256() {
        #expect(SHA256.hex("".utf8) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
