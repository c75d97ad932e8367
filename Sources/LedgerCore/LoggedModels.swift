/// MLflow 3's logged model: what `mlflow.<flavor>.log_model` creates. Its files are artifacts below `artifactURI`
/// (`<experiment location>/models/<id>/artifacts`); the run that made it lists it among its outputs.
public struct LoggedModel: Sendable, Equatable {
    /// `m-` and 32 hex digits, as MLflow makes them.
    public var id: String
    public var experimentID: ExperimentID
    public var name: String
    public var creationTime: Int64
    public var lastUpdateTime: Int64
    public var artifactURI: String
    public var status: LoggedModelStatus
    public var statusMessage: String
    public var modelType: String
    public var sourceRunID: RunID?
    public var lifecycle: LifecycleStage
    public var tags: [String: String]
    public var params: [String: String]

    public init(
        id: String, experimentID: ExperimentID, name: String, creationTime: Int64, lastUpdateTime: Int64, artifactURI: String,
        status: LoggedModelStatus, statusMessage: String = "", modelType: String = "", sourceRunID: RunID? = nil,
        lifecycle: LifecycleStage = .active, tags: [String: String] = [:], params: [String: String] = [:]
    ) {
        self.id = id
        self.experimentID = experimentID
        self.name = name
        self.creationTime = creationTime
        self.lastUpdateTime = lastUpdateTime
        self.artifactURI = artifactURI
        self.status = status
        self.statusMessage = statusMessage
        self.modelType = modelType
        self.sourceRunID = sourceRunID
        self.lifecycle = lifecycle
        self.tags = tags
        self.params = params
    }

    /// A new model's id.
    public static func newID() -> String { "m-" + RunID.random().rawValue }

    /// Whether `text` has the shape of a model id (the only text a model id is ever compared with or put in a path).
    public static func isValidID(_ text: String) -> Bool {
        text.hasPrefix("m-") && RunID(String(text.dropFirst(2))) != nil && text.dropFirst(2).allSatisfy { $0.isLowercase || $0.isNumber }
    }
}

/// Where a logged model's upload stands, with MLflow's names and numbers.
public enum LoggedModelStatus: String, Sendable, CaseIterable {
    case pending = "LOGGED_MODEL_PENDING"
    case ready = "LOGGED_MODEL_READY"
    case uploadFailed = "LOGGED_MODEL_UPLOAD_FAILED"

    /// MLflow's enum number (sent by some clients instead of the name).
    public var number: Int64 {
        switch self {
        case .pending: 1
        case .ready: 2
        case .uploadFailed: 3
        }
    }

    /// The status a name (`LOGGED_MODEL_READY`, also `READY`) or number names.
    public static func parse(_ text: String) throws(LedgerError) -> LoggedModelStatus {
        let upper = text.uppercased()
        if let status = allCases.first(where: { $0.rawValue == upper || $0.rawValue == "LOGGED_MODEL_" + upper || String($0.number) == text }) {
            return status
        }
        throw LedgerError(
            .invalidParameterValue,
            "Invalid logged model status '\(text.prefix(100))'. Valid statuses are \(allCases.map(\.rawValue).joined(separator: ", "))."
        )
    }
}

/// A model to create: `params` and `tags` as given (later duplicates of a key win).
public struct NewLoggedModel: Sendable, Equatable {
    public var id: String
    public var experimentID: ExperimentID
    public var name: String
    public var modelType: String
    public var sourceRunID: RunID?
    public var params: [KeyValue]
    public var tags: [KeyValue]

    public init(
        id: String = LoggedModel.newID(), experimentID: ExperimentID, name: String, modelType: String = "", sourceRunID: RunID? = nil,
        params: [KeyValue] = [], tags: [KeyValue] = []
    ) {
        self.id = id
        self.experimentID = experimentID
        self.name = name
        self.modelType = modelType
        self.sourceRunID = sourceRunID
        self.params = params
        self.tags = tags
    }
}

/// A change to a logged model.
public enum LoggedModelChange: Sendable, Equatable {
    case finalize(LoggedModelStatus)
    case setTags([KeyValue])
    case deleteTag(String)
    case logParams([KeyValue])
    /// Soft deletion, as MLflow's: the model leaves searches and `get` unless deleted models are asked for.
    case delete
}

/// A model a run produced (MLflow's `ModelOutput`): which model, at which step.
public struct RunModelOutput: Sendable, Equatable {
    public var modelID: String
    public var step: Int64

    public init(modelID: String, step: Int64) {
        self.modelID = modelID
        self.step = step
    }
}

/// A dataset a run read (MLflow's `DatasetInput`): the dataset's identity and description, and the input's tags.
public struct DatasetInput: Sendable, Equatable {
    public var name: String
    public var digest: String
    public var sourceType: String
    public var source: String
    public var schema: String?
    public var profile: String?
    public var tags: [KeyValue]

    public init(
        name: String, digest: String, sourceType: String, source: String, schema: String? = nil, profile: String? = nil, tags: [KeyValue] = []
    ) {
        self.name = name
        self.digest = digest
        self.sourceType = sourceType
        self.source = source
        self.schema = schema
        self.profile = profile
        self.tags = tags
    }
}

/// What a run read and what it produced.
public struct RunIO: Sendable, Equatable {
    public var datasets: [DatasetInput] = []
    /// Ids of logged models the run read.
    public var modelInputs: [String] = []
    public var outputs: [RunModelOutput] = []

    public init(datasets: [DatasetInput] = [], modelInputs: [String] = [], outputs: [RunModelOutput] = []) {
        self.datasets = datasets
        self.modelInputs = modelInputs
        self.outputs = outputs
    }
}

/// MLflow's logged-model search: AND-joined conditions on `name`, `model_id`, `model_type`, `status`,
/// `source_run_id`, `creation_timestamp`, `last_updated_timestamp`, `tags.KEY` and `params.KEY`, an ordering
/// (newest first by default), offset pages. Models are few per experiment, so it runs over a listing.
public struct LoggedModelSearch: Sendable {
    enum Field: Equatable, Sendable {
        case name, modelID, modelType, status, sourceRunID, creationTime, lastUpdateTime
        case tag(String)
        case param(String)
    }

    private let filter: SimpleFilter<Field>
    private let order: [(field: Field, ascending: Bool)]

    /// Parses MLflow's filter text and order keys (`field_name`, `ascending`).
    public init(filter: String?, orderBy: [(field: String, ascending: Bool)]) throws(LedgerError) {
        self.filter = try SimpleFilter(filter ?? "", subject: "logged model filter", resolve: Self.field)
        var order: [(field: Field, ascending: Bool)] = []
        for (name, ascending) in orderBy {
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            let (field, _) = try Self.field(prefix: parts.count == 2 ? parts[0] : nil, key: parts.last ?? "", column: 1)
            order.append((field, ascending))
        }
        if order.isEmpty { order.append((.creationTime, false)) }
        order.append((.modelID, true))
        self.order = order
    }

    /// The matching models, in order, one page at a time (the token is an offset).
    public func page(of models: [LoggedModel], maxResults: Int, pageToken: String?) throws(LedgerError) -> (
        models: [LoggedModel], nextPageToken: String?
    ) {
        let matching = models.filter { model in filter.matches { Self.value($0, of: model) } }
        let sorted = matching.sorted { lhs, rhs in
            for (field, ascending) in order {
                switch (Self.value(field, of: lhs), Self.value(field, of: rhs)) {
                case (.string(let a)?, .string(let b)?) where a != b: return ascending ? a < b : a > b
                case (.number(let a)?, .number(let b)?) where a != b: return ascending ? a < b : a > b
                case (.some, nil): return true
                case (nil, .some): return false
                default: continue
                }
            }
            return false
        }
        let page = try SimpleFilter<Field>.page(sorted, maxResults: maxResults, pageToken: pageToken)
        return (page.items, page.nextPageToken)
    }

    private static func value(_ field: Field, of model: LoggedModel) -> Literal? {
        switch field {
        case .name: .string(model.name)
        case .modelID: .string(model.id)
        case .modelType: .string(model.modelType)
        case .status: .string(model.status.rawValue)
        case .sourceRunID: model.sourceRunID.map { .string($0.rawValue) }
        case .creationTime: .number(Double(model.creationTime))
        case .lastUpdateTime: .number(Double(model.lastUpdateTime))
        case .tag(let key): model.tags[key].map(Literal.string)
        case .param(let key): model.params[key].map(Literal.string)
        }
    }

    private static func field(prefix: String?, key: String, column: Int) throws(LedgerError) -> (Field, SimpleFilter<Field>.Kind) {
        switch (prefix?.lowercased(), key) {
        case (nil, "name"), ("attributes", "name"): return (.name, .text)
        case (nil, "model_id"), ("attributes", "model_id"): return (.modelID, .text)
        case (nil, "model_type"), ("attributes", "model_type"): return (.modelType, .text)
        case (nil, "status"), ("attributes", "status"): return (.status, .text)
        case (nil, "source_run_id"), ("attributes", "source_run_id"): return (.sourceRunID, .text)
        case (nil, "creation_timestamp"), ("attributes", "creation_timestamp"), (nil, "creation_time"): return (.creationTime, .number)
        case (nil, "last_updated_timestamp"), ("attributes", "last_updated_timestamp"): return (.lastUpdateTime, .number)
        case ("tag", _), ("tags", _): return (.tag(key), .text)
        case ("param", _), ("params", _): return (.param(key), .text)
        default:
            throw LedgerError(
                .invalidParameterValue,
                "Invalid logged model search key '\(prefix.map { $0 + "." } ?? "")\(key)' at column \(column). Valid keys are name, model_id, "
                    + "model_type, status, source_run_id, creation_timestamp, last_updated_timestamp, tags.KEY and params.KEY.",
                column: column
            )
        }
    }
}
