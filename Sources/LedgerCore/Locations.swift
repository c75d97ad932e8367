import Foundation

/// A parsed `postgres://user:password@host:port/database?sslmode=…` URL (`postgresql://` too).
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        /// Plain TCP (the default: loopback and private networks).
        case disable
        /// TLS when the server offers it.
        case prefer
        /// TLS or no connection.
        case require
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String, tls: TLSMode = .disable) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Whether `text` names a PostgreSQL database rather than a file.
    public static func matches(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Parses a URL; the error names the part that is wrong and shows the expected form.
    public init(url text: String) throws(LedgerError) {
        let form = "Expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]."
        guard PostgresLocation.matches(text), let components = URLComponents(string: text) else {
            throw LedgerError(.invalidParameterValue, "'\(PostgresLocation.redacted(text))' is not a PostgreSQL URL. \(form)")
        }
        guard let host = components.percentEncodedHost.flatMap({ $0.removingPercentEncoding }), !host.isEmpty else {
            throw LedgerError(.invalidParameterValue, "The PostgreSQL URL names no host. \(form)")
        }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw LedgerError(.invalidParameterValue, "The PostgreSQL URL names no user. \(form)")
        }
        let database = String(components.percentEncodedPath.drop(while: { $0 == "/" })).removingPercentEncoding ?? ""
        guard !database.isEmpty, !database.contains("/") else {
            throw LedgerError(.invalidParameterValue, "The PostgreSQL URL names no database (the path after the host). \(form)")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw LedgerError(.invalidParameterValue, "The PostgreSQL URL's port \(port) is not between 1 and 65535.")
        }
        var tls = TLSMode.disable
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw LedgerError(.invalidParameterValue, "sslmode '\(item.value ?? "")' is not supported: use disable, prefer or require.")
                }
                tls = mode
            default:
                throw LedgerError(.invalidParameterValue, "Unknown PostgreSQL URL parameter '\(item.name)': only sslmode is supported.")
            }
        }
        self.init(
            host: host, port: components.port ?? 5432, username: user,
            password: components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }, database: database, tls: tls
        )
    }

    /// The URL without its password, for logs and messages.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" + (tls == .disable ? "" : "?sslmode=\(tls.rawValue)") }

    /// `text` with any password replaced by `***`, for messages about URLs that did not parse.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else { return text }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}
