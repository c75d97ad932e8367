import Synchronization

/// Group commit: concurrent submissions are committed together, in one transaction, by whichever submitter arrived
/// first (the leader); the others wait for their result. One fsync then serves many writers, and writers never meet
/// "database is locked": there is only ever one transaction in flight.
///
/// The leader is the submitting task itself, so no task is spawned: it commits everything queued, then anything that
/// queued meanwhile, until the queue is empty.
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

    /// Submissions waiting for the leader's next group.
    var waiting: Int { state.withLock { $0.queue.count } }

    /// Commits `item`, possibly together with others. `commit` receives a group and returns one result per item, in order.
    func submit(_ item: Item, commit: ([Item]) async -> [Result<Output, any Error>]) async throws -> Output {
        let entry = Entry(item)
        let leads = state.withLock { state -> Bool in
            state.queue.append(entry)
            if state.leading { return false }
            state.leading = true
            return true
        }
        guard leads else { return try await entry.wait() }
        while true {
            let group = state.withLock { state -> [Entry] in
                if state.queue.isEmpty {
                    state.leading = false
                    return []
                }
                defer { state.queue = [] }
                return state.queue
            }
            if group.isEmpty { break }
            let results = await commit(group.map(\.item))
            for (member, result) in zip(group, results) { member.resolve(result) }
        }
        return try await entry.wait()
    }
}
