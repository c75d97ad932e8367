/// The one error type every RunLedger layer throws for bad input, missing resources and store failures.
///
/// `Code` is a struct over a private enum so that new codes can be added without breaking callers
/// that switch over the existing ones. `message` is written for the person who sent the request:
/// it names the bad value, the rule it broke and, where there is one, the fix.
public struct LedgerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is; servers map it to HTTP and MLflow error codes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidParameterValue = "INVALID_PARAMETER_VALUE"
            case resourceDoesNotExist = "RESOURCE_DOES_NOT_EXIST"
            case resourceAlreadyExists = "RESOURCE_ALREADY_EXISTS"
            case invalidState = "INVALID_STATE"
            case malformedQuery = "MALFORMED_QUERY"
            case notALedgerDatabase = "NOT_A_LEDGER_DATABASE"
            case schemaTooNew = "SCHEMA_TOO_NEW"
            case schemaPending = "SCHEMA_PENDING"
            case migrationConflict = "MIGRATION_CONFLICT"
            case storeUnavailable = "STORE_UNAVAILABLE"
            case conflict = "RESOURCE_CONFLICT"
            case invalidArchive = "INVALID_ARCHIVE"
            case `internal` = "INTERNAL_ERROR"
        }
        private let base: Base

        private init(base: Base) { self.base = base }

        /// A parameter broke a documented rule (bad key, over a limit, a changed param value).
        public static let invalidParameterValue = Code(base: .invalidParameterValue)
        /// The named experiment, run or metric does not exist.
        public static let resourceDoesNotExist = Code(base: .resourceDoesNotExist)
        /// A resource with that identity exists already (an experiment name, a run id).
        public static let resourceAlreadyExists = Code(base: .resourceAlreadyExists)
        /// The resource exists but its state forbids the change (a deleted run, a status moving backwards).
        public static let invalidState = Code(base: .invalidState)
        /// A filter, order-by or page token could not be parsed; the message says where.
        public static let malformedQuery = Code(base: .malformedQuery)
        /// The file exists but is not a RunLedger database.
        public static let notALedgerDatabase = Code(base: .notALedgerDatabase)
        /// The database was migrated by a newer RunLedger than this one.
        public static let schemaTooNew = Code(base: .schemaTooNew)
        /// The database has migrations that have not been applied and automatic migration is off.
        public static let schemaPending = Code(base: .schemaPending)
        /// The migration files or history disagree (duplicate versions, an edited applied file, a missing file).
        public static let migrationConflict = Code(base: .migrationConflict)
        /// The store could not be reached or failed for a reason that is not the caller's fault; retrying may help.
        public static let storeUnavailable = Code(base: .storeUnavailable)
        /// The write was based on a version that is no longer current (a stale expected version of a state document).
        public static let conflict = Code(base: .conflict)
        /// A backup archive is truncated, altered or not an archive; nothing was restored from it.
        public static let invalidArchive = Code(base: .invalidArchive)
        /// A bug: an invariant did not hold.
        public static let `internal` = Code(base: .internal)

        /// The stable, upper-case name of the code (MLflow's spelling where MLflow has the code).
        public var description: String { base.rawValue }

        /// The code with this name (``description``), or nil for a name this version does not know.
        public init?(name: String) {
            guard let base = Base(rawValue: name) else { return nil }
            self.base = base
        }
    }

    /// What went wrong, as a category.
    public var code: Code
    /// A sentence for the person who sent the request.
    public var message: String
    /// For query errors: the 1-based column in the filter or order-by text where the problem starts.
    public var column: Int?

    /// Creates an error with a code and a message that names the bad value, the rule and the fix.
    public init(_ code: Code, _ message: String, column: Int? = nil) {
        self.code = code
        self.message = message
        self.column = column
    }

    public var description: String { message }

    /// Whether retrying the same request later may succeed (the store was unavailable, not the input wrong).
    public var isTransient: Bool { code == .storeUnavailable }
}
