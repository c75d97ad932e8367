/// How a RunLedger server listens and what it allows. Flags and environment are read by the CLI, not here.
public struct ServerConfiguration: Sendable {
    /// The address to listen on; `127.0.0.1` keeps the server private to the machine.
    public var host: String
    /// The TCP port; 0 lets the system choose one (tests read the bound port back).
    public var port: Int
    /// Requests with a larger body are refused with 413 before they are read further.
    public var maxBodyBytes: Int
    /// Bearer tokens and their scopes; nil serves every route without authentication.
    public var accessTokens: AccessTokens?

    /// A configuration with MLflow's defaults: 127.0.0.1:5000, 16 MiB bodies, no authentication.
    public init(host: String = "127.0.0.1", port: Int = 5000, maxBodyBytes: Int = 16 << 20, accessTokens: AccessTokens? = nil) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.accessTokens = accessTokens
    }
}
