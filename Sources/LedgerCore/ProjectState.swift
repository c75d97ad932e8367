/// A project: a named workspace whose JSON state documents an application keeps and switches between.
public struct Project: Sendable, Equatable {
    public var name: String
    /// Milliseconds since the epoch.
    public var createdAt: Int64
    /// When the project was last made the active one (`switch`); nil if never.
    public var lastActiveAt: Int64?
    public var archived: Bool
    /// How many state documents the project holds.
    public var documentCount: Int

    public init(name: String, createdAt: Int64, lastActiveAt: Int64?, archived: Bool, documentCount: Int) {
        self.name = name
        self.createdAt = createdAt
        self.lastActiveAt = lastActiveAt
        self.archived = archived
        self.documentCount = documentCount
    }
}

/// A change to a project.
public enum ProjectChange: String, Sendable, Equatable, CaseIterable {
    /// Creates it; refused when the name is taken.
    case create
    /// Marks it archived: its documents stay readable, writes are refused until it is switched to again.
    case archive
    /// Makes it the active project: records the time and lifts an archive.
    case activate
    /// Deletes it with all its documents.
    case delete
}

/// One JSON document of a project, kept under a namespace, with a version that grows by one on every write.
public struct StateDocument: Sendable, Equatable {
    public var project: String
    public var namespace: String
    public var version: Int64
    public var updatedAt: Int64
    /// The document as JSON text, as it was given.
    public var document: String

    public init(project: String, namespace: String, version: Int64, updatedAt: Int64, document: String) {
        self.project = project
        self.namespace = namespace
        self.version = version
        self.updatedAt = updatedAt
        self.document = document
    }

    /// `{project, namespace, version, updated_at, document}`, the document as JSON rather than text.
    public var json: JSONValue {
        .object([
            ("project", .string(project)), ("namespace", .string(namespace)), ("version", .integer(version)), ("updated_at", .integer(updatedAt)),
            ("document", (try? JSONValue(parsing: document.utf8)) ?? .string(document)),
        ])
    }
}

extension Project {
    /// `{name, created_at, last_active_at, archived, documents, has_state}`.
    public var json: JSONValue {
        .object([
            ("name", .string(name)), ("created_at", .integer(createdAt)), ("last_active_at", lastActiveAt.map(JSONValue.integer) ?? .null),
            ("archived", .bool(archived)), ("documents", .integer(Int64(documentCount))), ("has_state", .bool(documentCount > 0)),
        ])
    }

    /// Reads the shape of ``json``.
    public init(json: JSONValue) throws(LedgerError) {
        guard case .string(let name)? = json["name"], let created = json["created_at"]?.int64 else {
            throw LedgerError(.internal, "A project in an answer lacks its name or creation time.")
        }
        self.init(
            name: name, createdAt: created, lastActiveAt: json["last_active_at"]?.int64, archived: json["archived"] == .bool(true),
            documentCount: Int(json["documents"]?.int64 ?? 0)
        )
    }
}

extension StateDocument {
    /// Reads the shape of ``json``; the document goes back to JSON text.
    public init(json: JSONValue) throws(LedgerError) {
        guard case .string(let project)? = json["project"], case .string(let namespace)? = json["namespace"], let version = json["version"]?.int64,
            let updated = json["updated_at"]?.int64, let document = json["document"]
        else { throw LedgerError(.internal, "A state document in an answer lacks a field.") }
        self.init(project: project, namespace: namespace, version: version, updatedAt: updated, document: document.description)
    }
}

extension Validation {
    /// Refuses a project name or namespace that is empty, longer than 250 characters, or has characters other than
    /// letters, digits, `_ - . :` (they appear in URL paths and file names, so nothing that needs escaping).
    public static func checkStateName(_ name: String, kind: String) throws(LedgerError) {
        let allowed = name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "_-.:".unicodeScalars.contains($0)
        }
        guard !name.isEmpty, name.unicodeScalars.count <= Limits.keyLength, allowed, name != ".", name != ".." else {
            throw LedgerError(
                .invalidParameterValue,
                "Invalid \(kind) '\(name.prefix(100))': use 1 to \(Limits.keyLength) letters, digits, '_', '-', '.' or ':'."
            )
        }
    }

    /// Refuses a state document that is not JSON or is larger than ``Limits/stateDocumentBytes``.
    public static func checkStateDocument(_ document: String) throws(LedgerError) {
        guard document.utf8.count <= Limits.stateDocumentBytes else {
            throw LedgerError(.invalidParameterValue, "The document has \(document.utf8.count) bytes; the limit is \(Limits.stateDocumentBytes).")
        }
        do {
            _ = try JSONValue(parsing: document.utf8)
        } catch {
            throw LedgerError(.invalidParameterValue, "The document is not valid JSON (\(error)). Send a JSON value such as {\"step\": 1}.")
        }
    }

    /// Everything a state write must satisfy before a store looks at the database: both names, the document, the version.
    public static func checkStatePut(project: String, namespace: String, document: String, expectedVersion: Int64?) throws(LedgerError) {
        try checkStateName(project, kind: "project name")
        try checkStateName(namespace, kind: "namespace")
        try checkStateDocument(document)
        try checkExpectedVersion(expectedVersion)
    }

    /// Refuses an expected version below zero.
    public static func checkExpectedVersion(_ version: Int64?) throws(LedgerError) {
        if let version, version < 0 {
            throw LedgerError(.invalidParameterValue, "Invalid expected version \(version): give 0 for a new document or the version you read.")
        }
    }
}

extension LedgerError {
    /// A project that does not exist, with the command that makes it.
    public static func unknownProject(_ name: String) -> LedgerError {
        LedgerError(.resourceDoesNotExist, "No project named '\(name)': create it first (`runledger projects create \(name)`).")
    }

    /// A project of this name exists already.
    public static func projectExists(_ name: String) -> LedgerError {
        LedgerError(.resourceAlreadyExists, "A project named '\(name)' exists already.")
    }

    /// A write to an archived project, with the command that makes it writable again.
    public static func archivedProject(_ name: String) -> LedgerError {
        LedgerError(.invalidState, "Project '\(name)' is archived: `runledger projects switch \(name)` makes it active again.")
    }

    /// The error a stale writer gets: what it expected, what is there, and what to do.
    public static func staleState(project: String, namespace: String, expected: Int64, current: Int64?) -> LedgerError {
        let now = current.map { "is at version \($0)" } ?? "does not exist"
        return LedgerError(
            .conflict,
            "State '\(namespace)' of project '\(project)' \(now), not version \(expected): another writer changed it. Read it again and retry."
        )
    }
}
