/// A validated path below the artifact root: `0/<run>/artifacts/plots/soc.png`, as MLflow's proxied artifact routes
/// name files. Built only from text that cannot leave the root, whatever the spelling.
public struct ArtifactPath: Sendable, Hashable, CustomStringConvertible {
    /// The path's components; never empty strings, `.` or `..`.
    public let components: [String]

    /// The root itself (a listing of everything).
    public static let root = ArtifactPath(checked: [])

    private init(checked components: [String]) { self.components = components }

    /// Validates an already percent-decoded path, as MLflow's `validate_path_is_safe` does and stricter: no NUL or other
    /// control character, no backslash, no `#`, not absolute, no `.`, `..` or empty component, at most 1024 bytes and
    /// 255 bytes per component. An empty text is the root.
    public init(validating text: String) throws(LedgerError) {
        guard !text.isEmpty else {
            self = .root
            return
        }
        func refuse(_ why: String) -> LedgerError {
            LedgerError(
                .invalidParameterValue, "Invalid artifact path '\(String(text.prefix(200)).debugDescription.dropFirst().dropLast())': \(why).")
        }
        guard text.utf8.count <= 1024 else { throw refuse("it is longer than 1024 bytes") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw refuse("it contains a control character")
        }
        guard !text.contains("\\") else { throw refuse("backslashes are not separators here; use '/'") }
        guard !text.contains("#") else { throw refuse("'#' is not allowed") }
        guard !text.hasPrefix("/") else { throw refuse("it must be relative") }
        var parts = text.split(separator: "/", omittingEmptySubsequences: false)
        // A trailing slash names the same folder.
        if parts.count > 1, parts.last == "" { parts.removeLast() }
        var components: [String] = []
        for component in parts {
            guard !component.isEmpty else { throw refuse("it has an empty component ('//')") }
            guard component != ".", component != ".." else { throw refuse("'.' and '..' are not allowed") }
            guard component.utf8.count <= 255 else { throw refuse("a component is longer than 255 bytes") }
            // A Windows drive letter (`C:`) would make the path absolute on such a server.
            guard !(components.isEmpty && component.count == 2 && component.hasSuffix(":")) else { throw refuse("it must be relative") }
            components.append(String(component))
        }
        self.components = components
    }

    /// Validates text that arrives percent-encoded (a URL path or query value): decoded first, then checked, so that
    /// `%2e%2e` is the `..` it spells.
    public init(percentEncoded text: String) throws(LedgerError) {
        guard let decoded = text.removingPercentEncodingStrictly() else {
            throw LedgerError(.invalidParameterValue, "Invalid artifact path '\(text.prefix(200))': a '%' escape is malformed.")
        }
        try self.init(validating: decoded)
    }

    /// The path with `other` appended.
    public func appending(_ other: ArtifactPath) -> ArtifactPath { ArtifactPath(checked: components + other.components) }

    /// The enclosing folder (the root's is the root).
    public var parent: ArtifactPath { ArtifactPath(checked: Array(components.dropLast())) }

    /// The last component, or "" for the root.
    public var name: String { components.last ?? "" }

    public var isRoot: Bool { components.isEmpty }

    public var description: String { components.joined(separator: "/") }

    /// Whether `self` is `other` or inside it.
    public func isWithin(_ other: ArtifactPath) -> Bool { components.starts(with: other.components) }
}

/// One entry of an artifact listing.
public struct ArtifactEntry: Sendable, Equatable {
    /// The path relative to the listed folder (MLflow's proxied listing) or to the run's root (a run listing).
    public var path: String
    public var isDirectory: Bool
    /// The size in bytes of a file; nil for a folder.
    public var size: Int64?

    public init(path: String, isDirectory: Bool, size: Int64?) {
        self.path = path
        self.isDirectory = isDirectory
        self.size = size
    }
}

extension ArtifactPath {
    /// The scheme of locations served by RunLedger's (and MLflow's) proxied artifact routes.
    public static let scheme = "mlflow-artifacts:"

    /// The folder of a location `mlflow-artifacts:/<path>` (also `mlflow-artifacts://host/<path>`); nil for a location
    /// elsewhere (an `s3://` or local path an experiment was created with), which this server does not serve.
    public init?(location: String) {
        guard location.hasPrefix(Self.scheme) else { return nil }
        var rest = Substring(location.dropFirst(Self.scheme.count))
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            rest = rest.drop { $0 != "/" }
        }
        guard let path = try? ArtifactPath(percentEncoded: String(rest.drop { $0 == "/" })) else { return nil }
        self = path
    }
}

extension String {
    /// The text with `%XX` escapes decoded as UTF-8; nil when an escape is malformed or the bytes are not UTF-8.
    func removingPercentEncodingStrictly() -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
