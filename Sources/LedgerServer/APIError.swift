public import Hummingbird
public import LedgerCore

/// An error as an HTTP client sees it: a status and MLflow's body `{"error_code": …, "message": …}`.
public struct APIError: HTTPResponseError, Equatable {
    public var status: HTTPResponse.Status
    /// MLflow's error code (`INVALID_PARAMETER_VALUE`, `RESOURCE_DOES_NOT_EXIST`, …) or one of RunLedger's own.
    public var errorCode: String
    public var message: String
    /// For filter errors: the 1-based column in the filter text where the problem starts.
    public var column: Int?
    /// RunLedger's own code when MLflow's is coarser (`MALFORMED_QUERY` under `INVALID_PARAMETER_VALUE`), so that
    /// RunLedger's remote client rebuilds the exact ``LedgerError``; MLflow clients ignore it.
    public var ledgerCode: String?

    /// Creates an error with its HTTP status, code and message.
    public init(_ status: HTTPResponse.Status, _ errorCode: String, _ message: String, column: Int? = nil, ledgerCode: String? = nil) {
        self.status = status
        self.errorCode = errorCode
        self.message = message
        self.column = column
        self.ledgerCode = ledgerCode
    }

    /// The one table from ``LedgerError/Code`` to HTTP status and MLflow error code.
    ///
    /// MLflow answers INVALID_STATE with 500; RunLedger answers 400 because the request, not the server, is at fault
    /// (MLflow's client retries 5xx responses, which would repeat a request that cannot succeed).
    public init(_ error: LedgerError) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .resourceDoesNotExist: .notFound
            case .conflict: .conflict
            case .invalidParameterValue, .resourceAlreadyExists, .invalidState, .malformedQuery: .badRequest
            case .storeUnavailable, .schemaPending, .schemaTooNew, .notALedgerDatabase, .migrationConflict: .serviceUnavailable
            default: .internalServerError
            }
        let code =
            switch error.code {
            case .malformedQuery: "INVALID_PARAMETER_VALUE"
            case .storeUnavailable: "TEMPORARILY_UNAVAILABLE"
            default: error.code.description
            }
        self.init(status, code, error.message, column: error.column, ledgerCode: code == error.code.description ? nil : error.code.description)
    }

    /// A request parameter of the wrong type, in MLflow's words.
    static func invalidValue(_ value: JSONValue, for parameter: String, expected: String) -> APIError {
        APIError(
            .badRequest, "INVALID_PARAMETER_VALUE",
            "Invalid value \(value.description.prefix(200)) for parameter '\(parameter)' supplied: expected \(expected). "
                + "See the API docs for more information about request parameters."
        )
    }

    /// A required request parameter that is missing, in MLflow's words.
    static func missing(_ parameter: String) -> APIError {
        APIError(
            .badRequest, "INVALID_PARAMETER_VALUE",
            "Missing value for required parameter '\(parameter)'. See the API docs for more information about request parameters."
        )
    }

    /// What a client is told of a server-side failure: what happened and what to do, never the detail.
    static func publicMessage(_ code: LedgerError.Code, requestID: String) -> String {
        switch code {
        case .storeUnavailable: "The database is unavailable or busy (request \(requestID)); retry later."
        case .schemaPending, .schemaTooNew, .migrationConflict:
            "The database schema does not match this server (request \(requestID)); the operator should run 'runledger migrate status'."
        case .notALedgerDatabase:
            "The server's database is not a RunLedger database or is damaged (request \(requestID)); the server's log has the details."
        default: "Internal error (request \(requestID)); the server's log has the details."
        }
    }

    var body: JSONValue {
        var members: [(String, JSONValue)] = [("error_code", .string(errorCode)), ("message", .string(message))]
        if let column { members.append(("column", .integer(Int64(column)))) }
        if let ledgerCode { members.append(("runledger_code", .string(ledgerCode))) }
        return .object(members)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response.json(body, status: status, headers: headers)
    }
}

extension Response {
    /// A JSON response; non-finite numbers are written as MLflow writes them ("NaN", "Infinity", "-Infinity").
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = HTTPFields()) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        // Written straight into the response's buffer: a long history's text is not copied a second time.
        var buffer = ByteBufferAllocator().buffer(capacity: value.sizeEstimate)
        value.write { buffer.writeBytes($0) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
    }
}

/// Turns every error a handler throws into a JSON body with a code; unknown errors become a bare 500 that names the
/// request id, and their detail goes to the log only.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as LedgerError {
            var answer = APIError(error)
            if answer.status.code >= 500 {
                // The store's own words may name the database, a path or the driver's message: they go to the log.
                context.logger.error(
                    "request failed",
                    metadata: ["error": "\(error.message)", "path": "\(request.uri.path.prefix(200))", "request_id": "\(context.id)"]
                )
                answer.message = APIError.publicMessage(error.code, requestID: context.id)
            }
            return try answer.response(from: request, context: context)
        } catch let error as HTTPError {
            let code =
                switch error.status {
                case .notFound: "ENDPOINT_NOT_FOUND"
                case .contentTooLarge: "REQUEST_TOO_LARGE"
                case .methodNotAllowed: "BAD_REQUEST"
                default: error.status.code < 500 ? "BAD_REQUEST" : "INTERNAL_ERROR"
                }
            let message =
                switch error.status {
                case .notFound:
                    UnsupportedRoutes.message(method: "\(request.method)", path: request.uri.path)
                        ?? "No route \(request.method) \(request.uri.path.prefix(200)). The MLflow API lives under /api/2.0/mlflow/; see /openapi.json."
                default: error.body ?? error.status.reasonPhrase
                }
            return try APIError(error.status, code, message).response(from: request, context: context)
        } catch {
            context.logger.error(
                "unexpected error",
                metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path.prefix(200))", "request_id": "\(context.id)"]
            )
            return try APIError(
                .internalServerError, "INTERNAL_ERROR", "Internal error (request \(context.id)); the server's log has the details."
            ).response(from: request, context: context)
        }
    }
}
