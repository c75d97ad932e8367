@testable import LedgerSQLite
import Synchronization
import Testing

@Suite("Group commit")
struct GroupCommitTests {
    final class Gate: Sendable {
        let state = Mutex<(open: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))
        func wait() async {
            await withCheckedContinuation { continuation in
                let open = state.withLock { state -> Bool in
                    if !state.open { state.waiter = continuation }
                    return state.open
                }
                if open { continuation.resume() }
            }
        }
        func open() {
            state.withLock { state in
                state.open = true
                return state.waiter.take()
            }?.resume()
        }
    }

    @Test("submissions that arrive while a group commits are committed together in the next group, each with its own result")
    func groupsWhileCommitting() async throws {
        let commits = GroupCommit<Int, Int>()
        let gate = Gate()
        let groups = Mutex<[[Int]]>([])
        let commit: @Sendable ([Int]) async -> [Result<Int, any Error>] = { items in
            let first = groups.withLock { groups in
                groups.append(items)
                return groups.count == 1
            }
            if first { await gate.wait() }  // the first group holds the "transaction" open
            return items.map { $0 < 0 ? .failure(CancellationError()) : .success($0 * 10) }
        }
        try await withThrowingTaskGroup(of: (Int, Int?).self) { group in
            group.addTask { (0, try? await commits.submit(0, commit: commit)) }
            while groups.withLock({ $0.count }) == 0 { await Task.yield() }
            for item in [1, 2, 3, 4, -5, 6, 7, 8, 9] {
                group.addTask { (item, try? await commits.submit(item, commit: commit)) }
            }
            while commits.waiting < 9 { await Task.yield() }
            gate.open()
            var results: [Int: Int?] = [:]
            for try await (item, result) in group { results[item] = result }
            #expect(results[0] == 0 && results[3] == 30 && results[9] == 90)
            #expect(results[-5] == .some(nil), "a failure reaches only its own submitter")
        }
        let sizes = groups.withLock { $0.map(\.count) }
        #expect(sizes == [1, 9])
    }
}
