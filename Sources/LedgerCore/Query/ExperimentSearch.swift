/// MLflow's experiment search: a filter of `name`, `creation_time`, `last_update_time` and `tags.KEY` conditions
/// joined by AND, an ordering, and offset pages. Experiments are few, so the search runs in memory over a listing.
///
/// ```swift
/// let search = try ExperimentSearch(filter: "name LIKE 'energy%' AND tags.team = 'grid'", orderBy: ["name ASC"])
/// let page = try search.page(of: experiments, maxResults: 100, pageToken: nil)
/// ```
public struct ExperimentSearch: Sendable {
    enum Field: Equatable, Sendable {
        case name
        case creationTime
        case lastUpdateTime
        case experimentID
        case tag(String)
    }

    private let filter: SimpleFilter<Field>
    private let order: [(field: Field, ascending: Bool)]

    /// Parses the filter and order-by texts.
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` naming the column and what was expected there.
    public init(filter: String?, orderBy: [String]) throws(LedgerError) {
        self.filter = try SimpleFilter(filter ?? "", subject: "experiment filter", resolve: Self.field)
        var order: [(field: Field, ascending: Bool)] = []
        for text in orderBy.isEmpty ? ["creation_time DESC"] : orderBy {
            let clause = try SimpleFilter.order(text, resolve: Self.field)
            if case .tag = clause.field {
                throw LedgerError(.invalidParameterValue, "Invalid order_by clause '\(text)': experiments cannot be ordered by a tag.")
            }
            order.append(clause)
        }
        // A total order, so that offset pages neither repeat nor skip an experiment.
        if !order.contains(where: { $0.field == .experimentID }) { order.append((.experimentID, true)) }
        self.order = order
    }

    /// The experiments that match, in order, one page at a time; the token is the offset of the next page.
    public func page(of experiments: [Experiment], maxResults: Int, pageToken: String?) throws(LedgerError) -> (
        experiments: [Experiment], nextPageToken: String?
    ) {
        let page = try SimpleFilter<Field>.page(experiments.filter(matches).sorted(by: precedes), maxResults: maxResults, pageToken: pageToken)
        return (page.items, page.nextPageToken)
    }

    /// Whether the experiment satisfies every condition.
    public func matches(_ experiment: Experiment) -> Bool {
        filter.matches { field in
            switch field {
            case .name: .string(experiment.name)
            case .tag(let key): experiment.tags[key].map(Literal.string)
            case .creationTime: .number(Double(experiment.creationTime))
            case .lastUpdateTime: .number(Double(experiment.lastUpdateTime))
            case .experimentID: .number(Double(experiment.id.rawValue))
            }
        }
    }

    private func precedes(_ lhs: Experiment, _ rhs: Experiment) -> Bool {
        for (field, ascending) in order {
            let ordering: Int
            switch field {
            case .name: ordering = lhs.name == rhs.name ? 0 : (lhs.name < rhs.name ? -1 : 1)
            case .creationTime: ordering = lhs.creationTime == rhs.creationTime ? 0 : (lhs.creationTime < rhs.creationTime ? -1 : 1)
            case .lastUpdateTime:
                ordering = lhs.lastUpdateTime == rhs.lastUpdateTime ? 0 : (lhs.lastUpdateTime < rhs.lastUpdateTime ? -1 : 1)
            case .experimentID: ordering = lhs.id == rhs.id ? 0 : (lhs.id < rhs.id ? -1 : 1)
            case .tag: ordering = 0
            }
            if ordering != 0 { return ascending ? ordering < 0 : ordering > 0 }
        }
        return false
    }

    private static func field(prefix: String?, key: String, column: Int) throws(LedgerError) -> (Field, SimpleFilter<Field>.Kind) {
        switch (prefix?.lowercased(), key) {
        case (nil, "name"), ("attribute", "name"), ("attributes", "name"): return (.name, .text)
        case (nil, "creation_time"), ("attribute", "creation_time"), ("attributes", "creation_time"): return (.creationTime, .number)
        case (nil, "last_update_time"), ("attribute", "last_update_time"), ("attributes", "last_update_time"): return (.lastUpdateTime, .number)
        case (nil, "experiment_id"), ("attribute", "experiment_id"), ("attributes", "experiment_id"): return (.experimentID, .number)
        case ("tag", _), ("tags", _): return (.tag(key), .text)
        default:
            throw LedgerError(
                .invalidParameterValue,
                "Invalid experiment search key '\(prefix.map { $0 + "." } ?? "")\(key)' at column \(column). Valid keys are name, "
                    + "creation_time, last_update_time, experiment_id and tags.KEY.",
                column: column
            )
        }
    }
}
