import LedgerCore
import Testing

@Suite("SQL script splitting")
struct SQLScriptTests {
    @Test("statements split on semicolons outside quotes, identifiers, dollar quotes and comments")
    func splits() {
        let script = """
            -- heading; with a semicolon
            CREATE TABLE "odd;name" (v TEXT DEFAULT 'a;b', w TEXT DEFAULT E'it\\'s;');
            /* block; /* nested; */ still comment; */
            CREATE FUNCTION f() RETURNS INT LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$;
            DO $$ BEGIN PERFORM 1; END $$;
            SELECT $1::int;;
            SELECT 'it''s; fine'
            -- trailing comment only
            """
        let statements = SQLScript.statements(script)
        #expect(statements.count == 5, "\(statements)")
        #expect(statements[0].hasSuffix("w TEXT DEFAULT E'it\\'s;')"))
        #expect(statements[1].hasPrefix("/* block;") && statements[1].hasSuffix("$body$ BEGIN RETURN 1; END; $body$"))
        #expect(statements[2] == "DO $$ BEGIN PERFORM 1; END $$")
        #expect(statements[3] == "SELECT $1::int")
        #expect(statements[4] == "SELECT 'it''s; fine'\n-- trailing comment only")
    }

    @Test(
        "unterminated quotes and comments end the script without crashing",
        arguments: ["SELECT 'open", "SELECT $$ open", "/* open", "SELECT \"open", "$", "E'\\"])
    func unterminated(script: String) {
        #expect(SQLScript.statements(script).count <= 1)
    }
}
