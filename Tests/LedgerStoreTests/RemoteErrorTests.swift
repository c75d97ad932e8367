import LedgerCore
import NIOHTTP1
import Testing

@testable import LedgerRemote

@Suite("Remote store: which answers blame the data")
struct RemoteErrorTests {
    @Test("proxy pages, unknown routes, 413, 408 and auth problems keep the points (store unavailable); RunLedger's own refusals do not")
    func classification() {
        func code(_ status: HTTPResponseStatus, _ body: JSONValue) -> LedgerError.Code {
            RemoteStore.error(status: status, body, path: "/api/2.0/runledger/batches", base: "http://127.0.0.1:5000").code
        }
        let proxyPage = JSONValue.null  // an HTML page parses as no JSON at all
        for status in [HTTPResponseStatus.notFound, .badRequest, .payloadTooLarge, .badGateway, .serviceUnavailable, .gatewayTimeout] {
            #expect(code(status, proxyPage) == .storeUnavailable, "\(status) without an error body")
        }
        let ours = { (status: HTTPResponseStatus, errorCode: String) in
            code(status, .object([("error_code", .string(errorCode)), ("message", .string("m"))]))
        }
        #expect(ours(.notFound, "ENDPOINT_NOT_FOUND") == .storeUnavailable)
        #expect(ours(.payloadTooLarge, "REQUEST_TOO_LARGE") == .storeUnavailable)
        #expect(ours(.requestTimeout, "REQUEST_TIMEOUT") == .storeUnavailable)
        #expect(ours(.unauthorized, "UNAUTHENTICATED") == .storeUnavailable)
        #expect(ours(.forbidden, "INVALID_HOST") == .storeUnavailable)
        #expect(ours(.unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE") == .storeUnavailable)
        #expect(ours(.notFound, "RESOURCE_DOES_NOT_EXIST") == .resourceDoesNotExist)
        #expect(ours(.badRequest, "INVALID_PARAMETER_VALUE") == .invalidParameterValue)
    }
}
