/// MLflow's limits, enforced the way MLflow's server enforces them.
public enum Limits {
    /// Metrics in one log-batch request.
    public static let metricsPerBatch = 1000
    /// Params, and separately tags, in one log-batch request.
    public static let paramsOrTagsPerBatch = 100
    /// Metrics, params and tags together in one log-batch request.
    public static let entitiesPerBatch = 1000
    /// Characters in a metric, param or tag key.
    public static let keyLength = 250
    /// Characters in a param value; longer values are truncated with a warning, as MLflow's server does.
    public static let paramValueLength = 6000
    /// Characters in a tag value; longer values are truncated with a warning, as MLflow's server does.
    public static let tagValueLength = 8000
    /// Characters in an experiment name.
    public static let experimentNameLength = 500
    /// Characters in an experiment tag value (not truncated: MLflow refuses longer ones).
    public static let experimentTagValueLength = 20000
    /// Runs one search may return per page.
    public static let maxSearchResults = 50000
    /// The largest state document a project may hold, in UTF-8 bytes.
    public static let stateDocumentBytes = 8 << 20
    /// Points one page of `metrics/get-history` returns at most, whatever `max_results` asks for.
    public static let maxHistoryPage = 100_000
    /// Points a windowed read may return at once.
    public static let maxWindowPoints = 100_000
    /// Events a batch may carry, and the longest event message in characters.
    public static let eventsPerBatch = 1000
    public static let eventMessageLength = 8000
    /// Levels of parentheses and `not` in one filter: keeps parsing and evaluation within their stacks, and the SQL
    /// within SQLite's parser stack (measured: 36 nested NOTs or 24 alternating and/or levels pass, 40 and 32 fail).
    public static let filterNesting = 20
    /// Comparisons in one filter (SQLite refuses expression trees deeper than 1000).
    public static let filterComparisons = 200
    /// Values in one `IN (…)` list: each is a bound parameter, and SQLite allows 32766 per statement.
    public static let inListValues = 1000
    /// Keys in one `order_by`.
    public static let orderKeys = 20
    /// Experiments one search may name.
    public static let experimentsPerSearch = 1000
    /// Event kinds one event search may name.
    public static let eventKindsPerSearch = 100
    /// Rows one summary or aggregation may answer (buckets, times kinds and levels or groups).
    public static let summaryRows = 10_000
    /// Metric keys one aggregation may name.
    public static let metricsPerAggregation = 100
    /// Numbers one aggregation may hold to compute its percentiles (8 bytes each).
    public static let aggregatePoints = 25_000_000
    /// Metric keys one windowed read may name, and columns one export may ask for.
    public static let keysPerRead = 1000

    /// Refuses a log-batch request that holds more items than MLflow allows, naming the limit.
    /// Refuses a windowed or event read limit outside 1…``maxWindowPoints``.
    public static func checkReadLimit(_ limit: Int) throws(LedgerError) {
        guard (1...maxWindowPoints).contains(limit) else {
            throw LedgerError(.invalidParameterValue, "Invalid limit \(limit): it must be between 1 and \(maxWindowPoints).")
        }
    }

    public static func checkBatchCounts(metrics: Int, params: Int, tags: Int) throws(LedgerError) {
        try checkCount(metrics, limit: metricsPerBatch, of: "metrics")
        try checkCount(params, limit: paramsOrTagsPerBatch, of: "params")
        try checkCount(tags, limit: paramsOrTagsPerBatch, of: "tags")
        try checkCount(metrics + params + tags, limit: entitiesPerBatch, of: "metrics, params, and tags")
    }

    private static func checkCount(_ count: Int, limit: Int, of entity: String) throws(LedgerError) {
        guard count <= limit else {
            throw LedgerError(
                .invalidParameterValue,
                "A batch logging request can contain at most \(limit) \(entity). Got \(count) \(entity). "
                    + "Please split up \(entity) across multiple requests and try again."
            )
        }
    }
}

/// Checks keys and values against MLflow's rules. Pure: returns warnings instead of logging them.
public enum Validation {
    /// Refuses a metric, param or tag key that MLflow would refuse: empty, over 250 characters, characters outside
    /// letters, digits, `_ - . / : space`, or a path that would resolve to another name (`../x`, `/x`, `a//b`).
    public static func checkKey(_ key: String, kind: String) throws(LedgerError) {
        guard key.unicodeScalars.count <= Limits.keyLength else {
            throw LedgerError(
                .invalidParameterValue,
                "\(kind) key '\(key.prefix(40))…' has \(key.unicodeScalars.count) characters; the limit is \(Limits.keyLength)."
            )
        }
        guard key.unicodeScalars.allSatisfy(isAllowedKeyScalar) else {
            throw LedgerError(
                .invalidParameterValue,
                "Invalid \(kind.lowercased()) key '\(key)'. Names may only contain alphanumerics, underscores (_), dashes (-), "
                    + "periods (.), spaces ( ), colon(:) and slashes (/)."
            )
        }
        guard !pathWouldResolveElsewhere(key) else {
            throw LedgerError(
                .invalidParameterValue,
                "Invalid \(kind.lowercased()) key '\(key)'. Names may be treated as files and must not resolve to other names: "
                    + "no leading '/', no '.' or '..' parts, no empty parts, no trailing '/'."
            )
        }
    }

    /// Refuses an experiment tag with a bad key, a value over MLflow's limit (not truncated, as MLflow refuses it) or NUL.
    public static func checkExperimentTag(_ tag: KeyValue) throws(LedgerError) {
        try checkKey(tag.key, kind: "Tag")
        try checkNoNUL(tag.value, field: "the value of experiment tag '\(tag.key)'")
        guard tag.value.unicodeScalars.count <= Limits.experimentTagValueLength else {
            throw LedgerError(.invalidParameterValue, "Experiment tag '\(tag.key)' value exceeds \(Limits.experimentTagValueLength) characters.")
        }
    }

    /// Truncates a param value to MLflow's limit; the warning says what was cut.
    public static func normalizeParamValue(_ value: String, key: String) -> (value: String, warning: String?) {
        truncate(value, limit: Limits.paramValueLength, what: "Param '\(key)' value")
    }

    /// Truncates a tag value to MLflow's limit; the warning says what was cut.
    public static func normalizeTagValue(_ value: String, key: String) -> (value: String, warning: String?) {
        truncate(value, limit: Limits.tagValueLength, what: "Tag '\(key)' value")
    }

    /// Refuses an empty or over-long experiment name.
    public static func checkExperimentName(_ name: String) throws(LedgerError) {
        guard !name.isEmpty else {
            throw LedgerError(.invalidParameterValue, "Invalid experiment name: ''. Please give the experiment a name.")
        }
        try checkNoNUL(name, field: "experiment name")
        guard name.unicodeScalars.count <= Limits.experimentNameLength else {
            throw LedgerError(
                .invalidParameterValue,
                "Experiment name has \(name.unicodeScalars.count) characters; the limit is \(Limits.experimentNameLength)."
            )
        }
    }

    private static func truncate(_ value: String, limit: Int, what: String) -> (value: String, warning: String?) {
        let scalars = value.unicodeScalars
        guard scalars.count > limit else { return (value, nil) }
        var truncated = String.UnicodeScalarView()
        truncated.append(contentsOf: scalars.prefix(limit))
        return (String(truncated), "\(what) (\(scalars.count) characters) was truncated to \(limit) characters to meet the length limit.")
    }

    private static func isAllowedKeyScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "_", "-", ".", " ", ":", "/": true
        default: scalar.properties.isAlphabetic || scalar.properties.numericType != nil
        }
    }

    // Mirrors MLflow's `posixpath.normpath(name) != name` check.
    private static func pathWouldResolveElsewhere(_ key: String) -> Bool {
        if key.isEmpty || key.hasPrefix("/") || key.hasSuffix("/") { return true }
        return key.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == "." || $0 == ".." }
    }
}
