import Synchronization

/// Group commit: concurrent submissions are committed together, in one transaction, by whichever submitter arrived
/// first (the leader); the others wait for their result. One fsync then serves many writers, and writers never meet
/// "database is locked": there is only ever one transaction in flight.
///
/// The leader is the submitting task itself, so no task is spawned. It visits the writer (`visit`), and on the
/// writer's own thread a ``Drain`` commits everything queued, then whatever queued meanwhile, until the queue is empty
/// or the visit's time budget is spent; then the leader visits again, behind any other work queued for the writer.
/// Draining on the writer matters: were the leader to come back to the cooperative pool between groups, the writer
/// would sit idle until a thread was free from parsing requests.
final class GroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    private final class Entry: Sendable {
        let item: Item
        private let state = Mutex<(result: Result<Output, any Error>?, waiter: CheckedContinuation<Output, any Error>?)>((nil, nil))

        init(_ item: Item) { self.item = item }

        func resolve(_ result: Result<Output, any Error>) {
            let waiter = state.withLock { state -> CheckedContinuation<Output, any Error>? in
                if let waiter = state.waiter {
                    state.waiter = nil
                    return waiter
                }
                state.result = result
                return nil
            }
            waiter?.resume(with: result)
        }

        func wait() async throws -> Output {
            try await withCheckedThrowingContinuation { continuation in
                let ready = state.withLock { state -> Result<Output, any Error>? in
                    if let result = state.result { return result }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        }
    }

    private let state = Mutex<(queue: [Entry], leading: Bool)>(([], false))
    private let budget: Duration

    /// `budget`: how long one visit of the writer may keep committing, so that other writes queued for it still get
    /// their turn under a steady stream of submissions.
    init(budget: Duration = .milliseconds(20)) { self.budget = budget }

    /// Submissions waiting for the leader's next group.
    var waiting: Int { state.withLock { $0.queue.count } }

    /// How one visit ended, for its leader alone: another leader may already be visiting when this one looks.
    fileprivate final class Visit: Sendable {
        enum Ending { case drained, budgetSpent }
        let ending = Mutex<Ending?>(nil)
    }

    /// Commits queued groups, one `commit` call per group, each given its items and returning one result per item in
    /// order, until none is left (leadership ends with it) or the visit's budget is spent.
    struct Drain: Sendable {
        fileprivate let owner: GroupCommit
        fileprivate let visit: Visit
        fileprivate let deadline: ContinuousClock.Instant

        func callAsFunction(_ commit: ([Item]) -> [Result<Output, any Error>]) {
            var committed = false
            while true {
                let group = owner.state.withLock { state -> [Entry]? in
                    if state.queue.isEmpty {
                        state.leading = false
                        return []
                    }
                    if committed && ContinuousClock.now >= deadline { return nil }
                    defer { state.queue = [] }
                    return state.queue
                }
                guard let group else { return visit.ending.withLock { $0 = .budgetSpent } }
                if group.isEmpty { return visit.ending.withLock { $0 = .drained } }
                let results = commit(group.map(\.item))
                for (member, result) in zip(group, results) { member.resolve(result) }
                committed = true
            }
        }
    }

    /// Commits `item`, possibly together with others. A leader calls `visit` until the queue is drained; `visit`
    /// must run the drain it is given where commits happen. When `visit` throws, every waiting submission gets its error.
    func submit(_ item: Item, visit: (Drain) async throws -> Void) async throws -> Output {
        let entry = Entry(item)
        let leads = state.withLock { state -> Bool in
            state.queue.append(entry)
            if state.leading { return false }
            state.leading = true
            return true
        }
        guard leads else { return try await entry.wait() }
        while true {
            let current = Visit()
            var failure: (any Error)? = nil
            do {
                try await visit(Drain(owner: self, visit: current, deadline: .now + budget))
            } catch {
                failure = error
            }
            let ending = current.ending.withLock { $0 }
            if ending == .drained { break }
            if ending == .budgetSpent && failure == nil { continue }
            // Still the leader, but the writer could not be reached (or the visit skipped the drain): nobody queued
            // may wait forever.
            let stranded = state.withLock { state -> [Entry] in
                state.leading = false
                defer { state.queue = [] }
                return state.queue
            }
            let error = failure ?? GroupCommitError.notDrained
            for member in stranded { member.resolve(.failure(error)) }
            break
        }
        return try await entry.wait()
    }
}

/// A leader's visit returned without draining: a bug in the caller, reported instead of hanging its submitters.
struct GroupCommitError: Error, CustomStringConvertible {
    static let notDrained = GroupCommitError()
    var description: String { "The group commit's visit returned without committing anything." }
}
