import HTTPTypes
import Hummingbird
import LedgerCore

/// Which `Host` headers and which browser origins a server answers: the defence against DNS rebinding (a page whose
/// name now resolves to 127.0.0.1 sends its own name as Host) and against cross-site writes (a page the user opens
/// posts a form or a `text/plain` body to the server).
///
/// Patterns are host names or addresses, optionally with `:PORT`, and may hold `*` (`*.example.com`, `192.168.*`,
/// or `*` alone for any host).
public struct OriginPolicy: Sendable, Equatable {
    /// Host patterns the server answers; names are compared case-insensitively.
    public var allowedHosts: [String]
    /// Whether an IP literal in a private or link-local range is allowed too (as MLflow allows by default when the
    /// server listens on every interface): a rebinding page cannot send an IP literal as its Host.
    public var allowsPrivateAddresses: Bool
    /// Origins (`https://app.example.com`, `http://localhost:3000`, `https://*.example.com`) allowed to call the API
    /// from a browser besides the server's own; their requests get CORS headers.
    public var corsAllowedOrigins: [String]

    /// A policy with explicit lists.
    public init(allowedHosts: [String], allowsPrivateAddresses: Bool = false, corsAllowedOrigins: [String] = []) {
        self.allowedHosts = allowedHosts.map { $0.lowercased() }
        self.allowsPrivateAddresses = allowsPrivateAddresses
        self.corsAllowedOrigins = corsAllowedOrigins.map { $0.lowercased() }
    }

    /// The default for a server bound to `host`: the loopback names and the bound address; when bound to every
    /// interface (`0.0.0.0`, `::`), also private-range IP literals, so that machines on the LAN reach it by address.
    public static func standard(boundTo host: String, corsAllowedOrigins: [String] = []) -> OriginPolicy {
        let wildcard = ["0.0.0.0", "::", "[::]", ""].contains(host)
        var hosts = ["localhost", "127.0.0.1", "::1"]
        if !wildcard && !hosts.contains(host.lowercased()) { hosts.append(host) }
        return OriginPolicy(allowedHosts: hosts, allowsPrivateAddresses: wildcard, corsAllowedOrigins: corsAllowedOrigins)
    }

    /// Whether a request with this `Host` (authority) is answered.
    public func allowsHost(_ authority: String) -> Bool {
        guard let (host, port) = Self.split(authority: authority) else { return false }
        for pattern in allowedHosts {
            if pattern == "*" { return true }
            let (patternHost, patternPort) = Self.split(authority: pattern) ?? (pattern, nil)
            if let patternPort, patternPort != port { continue }
            if Glob.matches(patternHost, host) { return true }
        }
        return allowsPrivateAddresses && Self.isPrivateAddress(host)
    }

    /// Whether a browser page at `origin` may call the API of a server reached as `authority`.
    public func allowsOrigin(_ origin: String, authority: String?) -> Bool {
        Self.isSameOrigin(origin, authority: authority) || isListed(origin: origin)
    }

    /// Whether the page at `origin` was served by the server reached as `authority` (scheme aside: behind a TLS
    /// proxy the server cannot know it).
    static func isSameOrigin(_ origin: String, authority: String?) -> Bool {
        guard let authority, let originAuthority = Self.authority(ofOrigin: origin.lowercased()) else { return false }
        return originAuthority == authority.lowercased()
    }

    /// Whether `origin` is one of the extra origins given (not the server's own).
    func isListed(origin: String) -> Bool {
        let origin = origin.lowercased()
        return corsAllowedOrigins.contains { $0 == "*" || Glob.matches($0, origin) }
    }

    /// `http://host:port` → `host:port`; nil for `null` and anything without a scheme.
    static func authority(ofOrigin origin: String) -> String? {
        guard let range = origin.range(of: "://") else { return nil }
        let rest = origin[range.upperBound...]
        return rest.isEmpty || rest.contains("/") ? nil : String(rest)
    }

    /// `name:port`, `[v6]:port`, `name` → (host without brackets, lowercased; port); nil when malformed.
    static func split(authority: String) -> (String, String?)? {
        let text = authority.lowercased()
        guard !text.isEmpty, !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0 == "/" || $0 == "@" }) else { return nil }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.hasPrefix(":") else { return nil }
            return (host, String(rest.dropFirst()))
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return (Self.trimDot(text), nil)
        case 2: return (Self.trimDot(String(parts[0])), String(parts[1]))
        default: return (text, nil)  // a bare IPv6 address
        }
    }

    private static func trimDot(_ host: String) -> String { host.hasSuffix(".") ? String(host.dropLast()) : host }

    /// 10/8, 172.16/12, 192.168/16, 169.254/16, 127/8; fc00::/7, fe80::/10, ::1.
    static func isPrivateAddress(_ host: String) -> Bool {
        let octets = host.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        if octets.count == 4 && host.split(separator: ".", omittingEmptySubsequences: false).count == 4 {
            switch (octets[0], octets[1]) {
            case (10, _), (127, _), (192, 168), (169, 254): return true
            case (172, let second): return (16...31).contains(second)
            default: return false
            }
        }
        guard host.contains(":"), host.unicodeScalars.allSatisfy({ $0 == ":" || $0.properties.isASCIIHexDigit }) else { return false }
        return host == "::1" || host.hasPrefix("fc") || host.hasPrefix("fd") || host.hasPrefix("fe8") || host.hasPrefix("fe9")
            || host.hasPrefix("fea") || host.hasPrefix("feb")
    }
}

/// Applies an ``OriginPolicy`` before any route runs: a foreign `Host` gets 403, a state-changing request from a
/// foreign page gets 403, and pages at a listed origin get CORS headers (and answers to their preflights).
struct OriginGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: OriginPolicy

    static var unsafeMethods: Set<HTTPRequest.Method> { [.post, .put, .patch, .delete] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let authority = request.head.authority
        // /health holds nothing to read, and orchestrators probe it by whatever address they know.
        if request.uri.path != "/health" {
            guard let authority, policy.allowsHost(authority) else {
                throw APIError(
                    .forbidden, "INVALID_HOST",
                    "This server does not answer the host '\((authority ?? "").prefix(100))'. Start it with --allowed-hosts naming that host if it is yours."
                )
            }
        }
        guard let origin = request.headers[.origin] else {
            // Browsers send Origin on every cross-site write; a Sec-Fetch-Site header without it still says where from.
            if Self.unsafeMethods.contains(request.method), let site = request.headers[.secFetchSite], site == "cross-site" || site == "same-site" {
                throw Self.crossSite("a page on another site")
            }
            return try await next(request, context)
        }
        let sameOrigin = OriginPolicy.isSameOrigin(origin, authority: authority)
        let listed = !sameOrigin && policy.isListed(origin: origin)
        if !sameOrigin && !listed && (Self.unsafeMethods.contains(request.method) || request.method == .options) {
            throw Self.crossSite("the page at \(origin.prefix(100))")
        }
        guard listed else { return try await next(request, context) }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            Self.addCORS(&headers, origin: origin)
            headers[.accessControlAllowMethods] = "GET, POST, PUT, OPTIONS"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type, If-Match, If-None-Match"
            headers[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
        // The error middleware runs inside this one, so errors arrive here as responses and get the headers too.
        var response = try await next(request, context)
        Self.addCORS(&response.headers, origin: origin)
        return response
    }

    private static func addCORS(_ headers: inout HTTPFields, origin: String) {
        headers[.accessControlAllowOrigin] = origin
        headers[.vary] = "Origin"
        headers[.accessControlExposeHeaders] = "ETag, Content-Disposition"
    }

    private static func crossSite(_ source: String) -> APIError {
        APIError(
            .forbidden, "CROSS_ORIGIN_REQUEST_REFUSED",
            "Refused a request from \(source): only the server's own pages may change data. Start the server with --cors-allowed-origins naming that origin if it is yours."
        )
    }
}

extension HTTPField.Name {
    /// Where a browser says a request comes from (`same-origin`, `same-site`, `cross-site`, `none`).
    // A constant, valid token: the initialiser fails only on characters RFC 9110 does not allow in a name.
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
}
