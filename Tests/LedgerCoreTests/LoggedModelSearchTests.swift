import LedgerCore
import Testing

@Suite("Logged model search")
struct LoggedModelSearchTests {
    let models: [LoggedModel] = (0..<7).map(Self.model)

    static func model(_ index: Int) -> LoggedModel {
        let id = "m-" + String(repeating: String(index), count: 32)
        let tags: [String: String] = index == 4 ? ["stage": "candidate"] : [:]
        return LoggedModel(
            id: id, experimentID: ExperimentID(1), name: index % 2 == 0 ? "linear" : "forest", creationTime: Int64(100 + index),
            lastUpdateTime: Int64(200 - index), artifactURI: "mlflow-artifacts:/1/models/\(id)/artifacts", status: index < 3 ? .ready : .pending,
            sourceRunID: RunID(String(repeating: "a", count: 32)), tags: tags, params: ["depth": String(index)]
        )
    }

    @Test("filters on attributes, tags and params, joined by AND, match as a reference does")
    func filters() throws {
        func ids(_ filter: String) throws -> [String] {
            try LoggedModelSearch(filter: filter, orderBy: []).page(of: models, maxResults: 100, pageToken: nil).models.map(\.id)
        }
        #expect(try ids("name = 'linear'") == models.filter { $0.name == "linear" }.sorted { $0.creationTime > $1.creationTime }.map(\.id))
        #expect(try ids("tags.stage = 'candidate'") == [models[4].id])
        #expect(try ids("params.depth = '3' AND name = 'forest'") == [models[3].id])
        #expect(try ids("status = 'LOGGED_MODEL_READY' AND creation_timestamp >= 101").count == 2)
        #expect(try ids("name LIKE 'lin%' AND params.depth != '0'").count == 3)
        #expect(throws: LedgerError.self) { try LoggedModelSearch(filter: "name = 'a' OR name = 'b'", orderBy: []) }
        #expect(throws: LedgerError.self) { try LoggedModelSearch(filter: "colour = 'red'", orderBy: []) }
        #expect(throws: LedgerError.self) { try LoggedModelSearch(filter: "creation_timestamp LIKE '1%'", orderBy: []) }
    }

    @Test("newest first by default, other orders on request, and offset pages cover every model once")
    func ordersAndPages() throws {
        let search = try LoggedModelSearch(filter: nil, orderBy: [])
        var seen: [String] = []
        var token: String?
        repeat {
            let page = try search.page(of: models, maxResults: 3, pageToken: token)
            seen += page.models.map(\.id)
            token = page.nextPageToken
        } while token != nil
        #expect(seen == models.sorted { $0.creationTime > $1.creationTime }.map(\.id))
        let byUpdate = try LoggedModelSearch(filter: nil, orderBy: [("last_updated_timestamp", true)]).page(
            of: models, maxResults: 100, pageToken: nil)
        #expect(byUpdate.models.map(\.lastUpdateTime) == models.map(\.lastUpdateTime).sorted())
        #expect(throws: LedgerError.self) { try search.page(of: models, maxResults: 0, pageToken: nil) }
        #expect(throws: LedgerError.self) { try search.page(of: models, maxResults: 10, pageToken: "-4") }
    }

    @Test("model ids and statuses parse as MLflow writes them")
    func identifiers() throws {
        #expect(LoggedModel.isValidID(LoggedModel.newID()))
        #expect(!LoggedModel.isValidID("m-../../etc") && !LoggedModel.isValidID("m-" + String(repeating: "A", count: 32)))
        #expect(try LoggedModelStatus.parse("READY") == .ready)
        #expect(try LoggedModelStatus.parse("2") == .ready)
        #expect(throws: LedgerError.self) { try LoggedModelStatus.parse("DONE") }
    }
}
