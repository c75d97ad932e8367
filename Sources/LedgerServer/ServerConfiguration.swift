/// How a RunLedger server listens and what it allows. Flags and environment are read by the CLI, not here.
public struct ServerConfiguration: Sendable {
    /// The address to listen on; `127.0.0.1` keeps the server private to the machine.
    public var host: String
    /// The TCP port; 0 lets the system choose one (tests read the bound port back).
    public var port: Int
    /// Requests with a larger body are refused with 413 before they are read further.
    public var maxBodyBytes: Int
    /// An artifact upload larger than this is refused with 413 and nothing of it is kept.
    public var maxArtifactBytes: Int64
    /// A request body must arrive within this time (a client trickling bytes gets 408 and the connection closes).
    public var bodyReadTimeout: Duration
    /// A connection that sends nothing for this long is closed.
    public var idleTimeout: Duration
    /// Connections beyond this many wait in the listen queue until one closes.
    public var maxConnections: Int
    /// Bearer tokens and their scopes; nil serves every route without authentication.
    public var accessTokens: AccessTokens?
    /// The `Host` headers answered and the browser origins allowed to call the API.
    public var originPolicy: OriginPolicy

    /// A configuration with MLflow's defaults: 127.0.0.1:5000, 16 MiB bodies, 10 GiB artifacts, no authentication; bodies within 60 s,
    /// idle connections closed after 75 s, at most 512 connections; hosts and origins as
    /// ``OriginPolicy/standard(boundTo:corsAllowedOrigins:)`` decides for `host`.
    public init(
        host: String = "127.0.0.1", port: Int = 5000, maxBodyBytes: Int = 16 << 20, accessTokens: AccessTokens? = nil,
        originPolicy: OriginPolicy? = nil,
        bodyReadTimeout: Duration = .seconds(60), idleTimeout: Duration = .seconds(75), maxConnections: Int = 512,
        maxArtifactBytes: Int64 = 10 << 30
    ) {
        self.maxArtifactBytes = maxArtifactBytes
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.accessTokens = accessTokens
        self.originPolicy = originPolicy ?? .standard(boundTo: host)
        self.bodyReadTimeout = bodyReadTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }

    var bodyLimits: BodyLimits { BodyLimits(maxBytes: maxBodyBytes, readTimeout: bodyReadTimeout) }
}

/// How much of a request body a route reads, and for how long it waits for it.
struct BodyLimits: Sendable {
    var maxBytes: Int
    var readTimeout: Duration
}
