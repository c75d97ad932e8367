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
                throw LedgerError(
                    .invalidParameterValue,
                    "The token on line \(number + 1) of the token file is shorter than 16 characters; use a long random token.")
            }
            scopes[String(words[0])] = scope
        }
        guard !scopes.isEmpty else {
            throw LedgerError(.invalidParameterValue, "The token file holds no tokens: add lines 'TOKEN read' or 'TOKEN write'.")
        }
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

/// Refuses requests without a valid bearer token (401) and, where the route writes, requests with a read token (403).
/// It sits on the router group of one scope, so it runs only for routes that matched there: `/health`, the
/// dashboard's static files (which hold no data) and unknown paths never reach it.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: AccessTokens
    /// The scope the group's routes need.
    let needed: AccessTokens.Scope

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw APIError(.unauthorized, "UNAUTHENTICATED", "This server needs a bearer token: send 'Authorization: Bearer TOKEN'.")
        }
        guard let scope = tokens.scope(of: header.dropFirst(7).drop(while: { $0 == " " })) else {
            throw APIError(.unauthorized, "UNAUTHENTICATED", "The bearer token is not one this server knows.")
        }
        if needed == .write && scope == .read {
            throw APIError(
                .forbidden, "PERMISSION_DENIED", "This token may only read; \(request.method) \(request.uri.path.prefix(200)) needs a write token.")
        }
        return try await next(request, context)
    }
}
