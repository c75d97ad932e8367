import Hummingbird
public import LedgerCore

/// Bearer tokens and what each may do, read from a file of lines `TOKEN read|write` (`#` starts a comment).
public struct AccessTokens: Sendable, Equatable {
    /// What a token allows: reading only, or reading and writing.
    public enum Scope: String, Sendable, Equatable {
        case read
        case write
    }

    private let scopes: [String: Scope]

    /// Tokens and their scopes.
    public init(_ scopes: [String: Scope]) { self.scopes = scopes }

    /// Parses the token file's text.
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` naming the line that is not `TOKEN read|write`.
    public init(parsing text: String) throws(LedgerError) {
        var scopes: [String: Scope] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if words.isEmpty { continue }
            guard words.count == 2, let scope = Scope(rawValue: words[1].lowercased()) else {
                throw LedgerError(.invalidParameterValue, "Line \(number + 1) of the token file is not 'TOKEN read' or 'TOKEN write'.")
            }
            guard words[0].count >= 16 else {
                throw LedgerError(.invalidParameterValue, "The token on line \(number + 1) of the token file is shorter than 16 characters; use a long random token.")
            }
            scopes[String(words[0])] = scope
        }
        guard !scopes.isEmpty else { throw LedgerError(.invalidParameterValue, "The token file holds no tokens: add lines 'TOKEN read' or 'TOKEN write'.") }
        self.scopes = scopes
    }

    /// The scope of `token`, comparing in time that does not depend on where the first difference lies.
    func scope(of token: Substring) -> Scope? {
        var found: Scope?
        for (candidate, scope) in scopes where Self.constantTimeEqual(candidate.utf8, token.utf8) { found = scope }
        return found
    }

    private static func constantTimeEqual(_ lhs: String.UTF8View, _ rhs: Substring.UTF8View) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(lhs, rhs) { difference |= a ^ b }
        return difference == 0
    }
}

/// Refuses requests without a valid bearer token (401) and writes with a read token (403). `/health` stays open so
/// that orchestrators can probe a server whose tokens they do not hold, and so do the dashboard's static files, which
/// hold no data (the page sends the token the user gives it).
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: AccessTokens
    /// Whether the route at this method and path changes data.
    let writes: @Sendable (HTTPRequest.Method, String) -> Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health" || DashboardRoutes.isPublic(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError(.unauthorized, "UNAUTHENTICATED", "This server needs a bearer token: send 'Authorization: Bearer TOKEN'.")
        }
        guard let scope = tokens.scope(of: header.dropFirst("bearer ".count).drop(while: { $0 == " " })) else {
            throw APIError(.unauthorized, "UNAUTHENTICATED", "The bearer token is not one this server knows.")
        }
        if scope == .read, writes(request.method, request.uri.path) {
            throw APIError(.forbidden, "PERMISSION_DENIED", "This token may only read; \(request.method) \(request.uri.path) needs a write token.")
        }
        return try await next(request, context)
    }
}
