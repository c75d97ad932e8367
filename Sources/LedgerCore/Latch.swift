import Synchronization

/// A one-way signal many tasks can wait for: it opens once and stays open. Waiting ends when it opens or when the
/// waiting task is cancelled, so a waiter never outlives its task group (an `AsyncStream` allows only one waiter).
public final class Latch: Sendable {
    private let state = Mutex<(open: Bool, waiters: [Int: CheckedContinuation<Void, Never>], next: Int)>((false, [:], 0))

    public init() {}

    /// Opens the latch; every waiter resumes. Later calls do nothing.
    public func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [:] }
            return state.waiters
        }
        for waiter in waiters.values { waiter.resume() }
    }

    /// Returns once the latch is open, or when the calling task is cancelled.
    public func wait() async {
        let id = state.withLock { state -> Int? in
            if state.open { return nil }
            state.next += 1
            return state.next
        }
        guard let id else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiter in
                let now = state.withLock { state in
                    if state.open || Task.isCancelled { return true }
                    state.waiters[id] = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
