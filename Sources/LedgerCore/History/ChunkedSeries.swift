/// The rules of a (run, key) history stored as chunks (``MetricChunk``), written once for every backend.
///
/// A series' chunks hold its points in history order (``MetricPoint/historyPrecedes(_:_:)``), each point once, and do
/// not overlap: read in order of their last (step, timestamp), then id, they concatenate to the history. Neighbouring
/// chunks may share a (step, timestamp) at their boundary, so a write rewrites every chunk whose (step, timestamp) range
/// meets the new points', plus the chunk just before them when it has room: appending in step order rewrites only the
/// open tail chunk, and a full chunk is never touched again unless a point lands inside it.
public enum ChunkedSeries {
    /// Points per chunk. A write decodes and re-encodes at most the tail chunk beside its own points, so this bounds
    /// the cost of a small append; fewer, larger chunks would shave the per-row overhead off the bytes on disk.
    public static let capacity = 1000

    /// The (step, timestamp) range of sorted points: what a write reads chunks for.
    public struct Range: Sendable, Equatable {
        public var lowStep: Int64
        public var lowTimestamp: Int64
        public var highStep: Int64
        public var highTimestamp: Int64
    }

    /// A chunk read back for a rewrite.
    public struct Stored: Sendable {
        public var id: Int64
        public var data: [UInt8]

        public init(id: Int64, data: [UInt8]) {
            self.id = id
            self.data = data
        }
    }

    /// A chunk to store, with the summary its row keeps.
    public struct Row: Sendable {
        public var summary: ChunkSummary
        public var data: [UInt8]
    }

    /// What one write does to a series: the chunks it removes and those it adds in their place, in history order.
    public struct Edit: Sendable {
        public var removed: [Int64] = []
        public var added: [Row] = []
    }

    /// `points` in history order, each identical point once.
    public static func normalized(_ points: [MetricPoint]) -> [MetricPoint] {
        var sorted = points
        if !isNormalized(sorted) { sorted.sort(by: MetricPoint.historyPrecedes) }
        var unique: [MetricPoint] = []
        unique.reserveCapacity(sorted.count)
        for point in sorted where unique.last.map({ MetricPoint.historyPrecedes($0, point) }) ?? true { unique.append(point) }
        return unique
    }

    /// Whether `points` are strictly increasing in history order (sorted, no point twice).
    static func isNormalized(_ points: [MetricPoint]) -> Bool {
        zip(points, points.dropFirst()).allSatisfy { MetricPoint.historyPrecedes($0, $1) }
    }

    /// The range a write of normalized `points` touches; nil for none.
    public static func range(of points: [MetricPoint]) -> Range? {
        guard let first = points.first, let last = points.last else { return nil }
        return Range(lowStep: first.step, lowTimestamp: first.timestamp, highStep: last.step, highTimestamp: last.timestamp)
    }

    /// Merges normalized `points` with the chunks a store read for their ``range(of:)`` (``StoreSQL/chunksToRewrite(run:key:range:)``):
    /// the chunks are decoded, the points merged in, duplicates dropped, and the result cut into chunks of ``capacity``.
    /// - Throws: ``LedgerError`` when a stored chunk is damaged.
    public static func merge(_ points: [MetricPoint], into chunks: [Stored]) throws(LedgerError) -> Edit {
        var existing: [MetricPoint] = []
        for chunk in chunks { existing += try MetricChunk.decode(chunk.data) }
        if !isNormalized(existing) { existing = normalized(existing) }
        return Edit(removed: chunks.map(\.id), added: rows(mergeSorted(existing, points)))
    }

    /// Two normalized lists as one, each identical point once (the stored one kept).
    static func mergeSorted(_ a: [MetricPoint], _ b: [MetricPoint]) -> [MetricPoint] {
        if a.isEmpty { return b }
        if let last = a.last, let first = b.first, MetricPoint.historyPrecedes(last, first) { return a + b }
        var merged: [MetricPoint] = []
        merged.reserveCapacity(a.count + b.count)
        var (i, j) = (0, 0)
        while i < a.count, j < b.count {
            if MetricPoint.historyPrecedes(a[i], b[j]) {
                merged.append(a[i])
                i += 1
            } else if MetricPoint.historyPrecedes(b[j], a[i]) {
                merged.append(b[j])
                j += 1
            } else {
                merged.append(a[i])
                i += 1
                j += 1
            }
        }
        merged += a[i...]
        merged += b[j...]
        return merged
    }

    /// Normalized points cut into chunks of at most ``capacity``, in order.
    public static func rows(_ points: [MetricPoint]) -> [Row] {
        stride(from: 0, to: points.count, by: capacity).map { start in
            let slice = Array(points[start..<min(start + capacity, points.count)])
            return Row(summary: ChunkSummary(slice), data: MetricChunk.encode(slice))
        }
    }

    /// The points of chunks read in series order, as one history; a damaged chunk is refused.
    public static func points(_ chunks: [[UInt8]]) throws(LedgerError) -> [MetricPoint] {
        var points: [MetricPoint] = []
        for data in chunks { points += try MetricChunk.decode(data) }
        // The invariant makes this a check; a series written out of it still reads in order.
        return isNormalized(points) ? points : normalized(points)
    }

    /// Keeps the points of a series' chunks that `keep` accepts: the chunks losing points are rewritten (or removed
    /// when none is left); returns the edit and how many points it drops.
    public static func filter(_ chunks: [Stored], keep: (MetricPoint) -> Bool) throws(LedgerError) -> (edit: Edit, dropped: Int) {
        var edit = Edit()
        var dropped = 0
        for chunk in chunks {
            let points = try MetricChunk.decode(chunk.data)
            let kept = points.filter(keep)
            guard kept.count < points.count else { continue }
            dropped += points.count - kept.count
            edit.removed.append(chunk.id)
            edit.added += rows(kept)
        }
        return (edit, dropped)
    }
}
