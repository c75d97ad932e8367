/// How a backend answers a ``RunQuery``: a few SQL statements ("phases") run in order, plus the page token.
///
/// The first order key splits the runs into phases: those with a value, those whose value is NaN, those that lack
/// the key. Each phase is a plain SQL query whose ORDER BY an index can serve, so "the 5 cheapest" reads five rows
/// of the `(key, is_nan, value)` index instead of sorting every run. Later order keys are sorted in SQL with the
/// same rank rules. Pagination is keyset: the token holds the last row's position, never an offset.
public struct SearchPlan: Sendable {
    public let query: RunQuery
    public let order: [OrderKey]
    public let dialect: SQLDialect
    private let cursor: PageCursor?

    /// Validates the query and decodes its page token.
    public init(_ query: RunQuery, dialect: SQLDialect) throws(LedgerError) {
        try query.validate()
        self.query = query
        self.order = query.effectiveOrder
        self.dialect = dialect
        if let token = query.pageToken, !token.isEmpty {
            let cursor = try PageCursor(token: token, order: order)
            for (key, slot) in zip(order, cursor.position.slots) {
                guard key.field.possibleRanks.contains(slot.rank), (slot.rank == 0) == (slot.value != nil),
                    slot.value.map({ SearchPlan.valueFits($0, key.field) }) ?? true
                else { throw LedgerError(.malformedQuery, "Invalid page token: pass the next_page_token of the previous page unchanged.") }
            }
            self.cursor = cursor
        } else {
            self.cursor = nil
        }
    }

    private static func valueFits(_ value: SortValue, _ field: Field) -> Bool {
        switch (value, field) {
        case (.real, .metric), (.text, .param), (.text, .tag): true
        case (.integer, .attribute(let attribute)): attribute.isNumeric
        case (.text, .attribute(let attribute)): !attribute.isNumeric
        default: false
        }
    }

    /// The first-key ranks to visit, in order, skipping those wholly before the cursor.
    public var phases: [Int] {
        let ranks = order[0].field.possibleRanks
        guard let cursor else { return ranks }
        return ranks.filter { $0 >= cursor.position.slots[0].rank }
    }

    /// The statement that returns `(id, run_uuid)` of up to `limit` runs of one phase, in order.
    public func statement(phase: Int, limit: Int) -> SQLStatement {
        var writer = SQLWriter(dialect: dialect)
        let first = order[0].field
        let drivenByValueTable = first.valueTable != nil && phase < 2
        writer.append("SELECT r.id, r.run_uuid FROM ")
        if let table = first.valueTable, drivenByValueTable {
            // CROSS JOIN keeps the value index as the outer loop in SQLite, so its order serves the ORDER BY.
            writer.append("\(table) o0 CROSS JOIN runs r")
        } else {
            writer.append("runs r")
        }
        for index in order.indices.dropFirst() {
            guard let table = order[index].field.valueTable, let key = order[index].field.key else { continue }
            writer.append(" LEFT JOIN \(table) o\(index) ON o\(index).run_id = r.id AND o\(index).key = ")
            writer.bind(.text(key))
        }
        writer.append(" WHERE ")
        if let table = first.valueTable, let key = first.key {
            if drivenByValueTable {
                writer.append("r.id = o0.run_id AND o0.key = ")
                writer.bind(.text(key))
                if case .metric = first {
                    writer.append(phase == 0 ? " AND o0.is_nan = 0" : " AND o0.is_nan = 1")
                    // The latest-metrics index leads with the experiment: the walk stays inside the searched ones.
                    writer.append(" AND o0.experiment_id IN ")
                    writer.bindList(query.experimentIDs.map { .integer($0.rawValue) })
                }
            } else {
                writer.append("NOT EXISTS (SELECT 1 FROM \(table) o0 WHERE o0.run_id = r.id AND o0.key = ")
                writer.bind(.text(key))
                writer.append(")")
            }
        } else if first == .attribute(.endTime) {
            writer.append(phase == 0 ? "r.end_time IS NOT NULL" : "r.end_time IS NULL")
        } else {
            writer.append("1 = 1")
        }
        writer.append(" AND r.experiment_id IN ")
        writer.bindList(query.experimentIDs.map { .integer($0.rawValue) })
        writer.append(" AND r.lifecycle_stage IN ")
        writer.bindList(query.view.stages.map { .text($0.rawValue) })
        if query.filter != .all {
            writer.append(" AND ")
            query.filter.write(into: &writer)
        }
        if let cursor, cursor.position.slots[0].rank == phase {
            writer.append(" AND ")
            writeAfter(cursor.position, keyIndex: 0, into: &writer)
        }
        writer.append(" ORDER BY ")
        var terms: [String] = []
        if phase == 0 { terms.append(sortExpression(0, writer) + direction(0)) }
        for index in order.indices.dropFirst() {
            if let rank = rankExpression(index) { terms.append(rank + " ASC") }
            terms.append(sortExpression(index, writer) + direction(index))
        }
        terms.append(writer.binaryText("r.run_uuid") + " ASC")
        writer.append(terms.joined(separator: ", "))
        writer.append(" LIMIT ")
        writer.bind(.integer(Int64(limit)))
        return writer.statement
    }

    /// The token for the page that follows `last`, the last run of the current page.
    public func nextPageToken(after last: Run) -> String {
        PageCursor(order: order, position: SortPosition(of: last, in: order)).token
    }

    private func direction(_ index: Int) -> String { order[index].ascending ? " ASC" : " DESC" }

    private func valueExpression(_ index: Int) -> String {
        order[index].field.attributeColumn ?? "o\(index).value"
    }

    private func sortExpression(_ index: Int, _ writer: SQLWriter) -> String {
        order[index].field.isNumeric ? valueExpression(index) : writer.binaryText(valueExpression(index))
    }

    private func rankExpression(_ index: Int) -> String? {
        switch order[index].field {
        case .metric: "CASE WHEN o\(index).run_id IS NULL THEN 2 WHEN o\(index).is_nan = 1 THEN 1 ELSE 0 END"
        case .param, .tag: "CASE WHEN o\(index).run_id IS NULL THEN 2 ELSE 0 END"
        case .attribute(.endTime): "CASE WHEN r.end_time IS NULL THEN 2 ELSE 0 END"
        case .attribute: nil
        }
    }

    /// Writes "the row comes strictly after `position`" for keys from `keyIndex` on (the phase fixes key 0's rank).
    private func writeAfter(_ position: SortPosition, keyIndex: Int, into writer: inout SQLWriter) {
        guard keyIndex < order.count else {
            writer.append(writer.binaryText("r.run_uuid") + " > ")
            writer.bind(.text(position.runID))
            return
        }
        let slot = position.slots[keyIndex]
        var closers = ""
        if keyIndex > 0, let rank = rankExpression(keyIndex) {
            writer.append("(\(rank) > ")
            writer.bind(.integer(Int64(slot.rank)))
            writer.append(" OR (\(rank) = ")
            writer.bind(.integer(Int64(slot.rank)))
            writer.append(" AND ")
            closers = "))"
        }
        if slot.rank == 0, let value = slot.value {
            let expression = sortExpression(keyIndex, writer)
            let bound: SQLValue =
                switch value {
                case .real(let number): .real(number)
                case .integer(let number): .integer(number)
                case .text(let text): .text(text)
                }
            writer.append("(\(expression) \(order[keyIndex].ascending ? ">" : "<") ")
            writer.bind(bound)
            writer.append(" OR (\(expression) = ")
            writer.bind(bound)
            writer.append(" AND ")
            writeAfter(position, keyIndex: keyIndex + 1, into: &writer)
            writer.append("))")
        } else {
            writeAfter(position, keyIndex: keyIndex + 1, into: &writer)
        }
        writer.append(closers)
    }
}
