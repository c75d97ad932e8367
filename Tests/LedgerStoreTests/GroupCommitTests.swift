import Dispatch
import Synchronization
import Testing

@testable import LedgerSQLite

@Suite("Group commit")
struct GroupCommitTests {
    /// Stands in for the store: a serial queue plays the writer, and the first group's "transaction" stays open until
    /// `release` is signalled, so that the test decides what queues meanwhile.
    final class Writer: Sendable {
        let queue = DispatchQueue(label: "group-commit-test-writer")
        let release = DispatchSemaphore(value: 0)
        let groups = Mutex<[[Int]]>([])
        let visits = Mutex(0)

        func commit(_ items: [Int]) -> [Result<Int, any Error>] {
            let first = groups.withLock { groups in
                groups.append(items)
                return groups.count == 1
            }
            if first { release.wait() }
            return items.map { $0 < 0 ? .failure(CancellationError()) : .success($0 * 10) }
        }

        func visit(_ drain: GroupCommit<Int, Int>.Drain) async {
            visits.withLock { $0 += 1 }
            await withCheckedContinuation { continuation in
                queue.async {
                    drain(self.commit)
                    continuation.resume()
                }
            }
        }
    }

    /// Submits 0, waits until its group is committing, submits 1…9 (with -5 failing), then lets the first group finish.
    func run(_ commits: GroupCommit<Int, Int>, _ writer: Writer) async throws -> [Int: Int?] {
        try await withThrowingTaskGroup(of: (Int, Int?).self) { group in
            group.addTask { (0, try? await commits.submit(0, visit: writer.visit)) }
            while writer.groups.withLock({ $0.count }) == 0 { await Task.yield() }
            for item in [1, 2, 3, 4, -5, 6, 7, 8, 9] {
                group.addTask { (item, try? await commits.submit(item, visit: writer.visit)) }
            }
            while commits.waiting < 9 { await Task.yield() }
            writer.release.signal()
            var results: [Int: Int?] = [:]
            for try await (item, result) in group { results[item] = result }
            return results
        }
    }

    @Test("submissions that arrive while a group commits are committed together in the next group, in the same visit of the writer")
    func groupsWhileCommitting() async throws {
        let commits = GroupCommit<Int, Int>(budget: .seconds(60))
        let writer = Writer()
        let results = try await run(commits, writer)
        #expect(results[0] == 0 && results[3] == 30 && results[9] == 90)
        #expect(results[-5] == .some(nil), "a failure reaches only its own submitter")
        #expect(writer.groups.withLock { $0.map(\.count) } == [1, 9])
        #expect(writer.visits.withLock { $0 } == 1, "the writer drained the second group without the leader coming back")
    }

    @Test("a spent budget ends the visit; the leader visits again and nothing queued is left behind")
    func budgetEndsVisit() async throws {
        let commits = GroupCommit<Int, Int>(budget: .zero)
        let writer = Writer()
        let results = try await run(commits, writer)
        #expect(results.count == 10 && results[9] == 90)
        #expect(writer.groups.withLock { $0.map(\.count) } == [1, 9])
        #expect(writer.visits.withLock { $0 } == 2)
    }

    @Test("when the writer cannot be reached every waiting submitter gets the error, and the next submission leads again")
    func failedVisit() async throws {
        struct Unreachable: Error {}
        let commits = GroupCommit<Int, Int>()
        await #expect(throws: Unreachable.self) { try await commits.submit(1) { _ in throw Unreachable() } }
        let skipped = await #expect(throws: GroupCommitError.self) { try await commits.submit(2) { _ in } }
        #expect(skipped?.description.contains("without committing") == true)
        let writer = Writer()
        writer.release.signal()
        #expect(try await commits.submit(3, visit: writer.visit) == 30)
    }
}
