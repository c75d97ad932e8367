import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Copies the write-ahead log back into the database file on a connection and thread of its own.
///
/// SQLite's automatic checkpoint runs on the connection that committed, so the one writer would copy pages and wait
/// for fsync instead of committing the next group. Here a commit only signals, and a passive checkpoint copies what it
/// can while the writer goes on. The thread runs at Linux's idle scheduling class, so that it never takes CPU from the
/// simulation being logged ("logging never slows the simulation" comes first).
///
/// A checkpoint beside a busy writer never catches up with its newest frames, and SQLite restarts the log only after
/// a complete one; past ``writerFrames`` the writer therefore checkpoints itself between two of its transactions, as
/// SQLite would, copying what the background left.
final class WALCheckpointer: Sendable {
    /// Frames in the log (with 4 KiB pages, 16 MiB) before the background checkpoints.
    let backgroundFrames: Int32
    /// Frames in the log (64 MiB) at which the writer checkpoints itself.
    let writerFrames: Int32
    /// How long the thread waits for work before it ends (a later commit starts another).
    static let idleLifetime = DispatchTimeInterval.seconds(5)

    private let path: String
    private let wake = DispatchSemaphore(value: 0)
    private let state = Mutex(State())

    private struct State {
        var scheduled = false
        var checkpointing = false
        /// A thread takes work (a commit that finds none starts one).
        var threadRunning = false
        /// Threads not yet ended, including one that stopped taking work but still closes its connection.
        var threads = 0
        var stopped = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
        var exitWaiters: [CheckedContinuation<Void, Never>] = []

        mutating func releaseIdleWaiters() {
            guard !scheduled && !checkpointing else { return }
            for waiter in idleWaiters { waiter.resume() }
            idleWaiters = []
        }
    }

    /// Larger bounds than SQLite's 1000 copy fewer pages twice (a page rewritten by many commits is copied once per
    /// checkpoint), with a log of 64 MiB at most.
    init(path: String, backgroundFrames: Int32 = 4000, writerFrames: Int32 = 16000) {
        self.path = path
        self.backgroundFrames = backgroundFrames
        self.writerFrames = writerFrames
    }

    /// Makes `db` (the writer) signal this checkpointer after each commit instead of checkpointing on its own.
    ///
    /// The hook holds this object unretained: the caller keeps it alive as long as the connection (the pool's
    /// `prepareDatabase` closure captures it).
    func install(on db: Database) {
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, connection, name, frames in
                let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context!).takeUnretainedValue()
                if frames >= checkpointer.writerFrames {
                    // The hook runs after the commit released the write lock, so the writer may checkpoint here,
                    // which is what SQLite's default hook does.
                    sqlite3_wal_checkpoint_v2(connection, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                } else if frames >= checkpointer.backgroundFrames {
                    checkpointer.schedule()
                }
                return SQLITE_OK
            },
            Unmanaged.passUnretained(self).toOpaque()
        )
    }

    /// Ends background checkpoints; returns once the thread (and its connection) is gone, suspending meanwhile
    /// (a checkpoint may take a while on a slow disk, and no thread of the caller's pool waits for it).
    func stop() async {
        await withCheckedContinuation { exited in
            let running = state.withLock { state -> Bool in
                state.stopped = true
                if state.threads > 0 { state.exitWaiters.append(exited) }
                return state.threads > 0
            }
            if running { wake.signal() } else { exited.resume() }
        }
    }

    /// Returns once every checkpoint asked for so far has run (tests await this instead of polling the files).
    func waitUntilIdle() async {
        await withCheckedContinuation { idle in
            let busy = state.withLock { state -> Bool in
                guard state.scheduled || state.checkpointing else { return false }
                state.idleWaiters.append(idle)
                return true
            }
            if !busy { idle.resume() }
        }
    }

    private func schedule() {
        let startThread = state.withLock { state -> Bool? in
            guard !state.scheduled && !state.stopped else { return nil }
            state.scheduled = true
            let start = !state.threadRunning
            state.threadRunning = true
            if start { state.threads += 1 }
            return start
        }
        guard let startThread else { return }
        if startThread {
            let thread = Thread { self.run() }
            thread.name = "runledger.checkpoint"
            thread.start()
        }
        wake.signal()
    }

    private enum Step { case checkpoint, wait, exit }

    private func run() {
        #if os(Linux)
            // SCHED_IDLE (5 in <sched.h>, which Swift's Glibc does not export); an unprivileged thread may lower itself to it.
            var parameters = sched_param()
            pthread_setschedparam(pthread_self(), 5, &parameters)
        #endif
        var connection: OpaquePointer?
        defer {
            // Closed before stop() returns, so that closing the pool's last connection can remove the log.
            if let connection { sqlite3_close_v2(connection) }
            state.withLock { state in
                state.threads -= 1
                guard state.threads == 0 else { return }
                for waiter in state.exitWaiters { waiter.resume() }
                state.exitWaiters = []
            }
        }
        while true {
            let timedOut = wake.wait(timeout: .now() + Self.idleLifetime) == .timedOut
            let step = state.withLock { state -> Step in
                if state.stopped || (timedOut && !state.scheduled) {
                    // Decided under the lock, so that a commit now sees no thread and starts another.
                    state.threadRunning = false
                    state.scheduled = false
                    state.releaseIdleWaiters()
                    return .exit
                }
                guard state.scheduled else { return .wait }
                // Cleared before the work, so that a commit during this checkpoint asks for the next one.
                state.scheduled = false
                state.checkpointing = true
                return .checkpoint
            }
            switch step {
            case .exit: return
            case .wait: continue
            case .checkpoint:
                if connection == nil { connection = Self.open(path) }
                // Passive: never waits for readers or the writer. A busy result only means another checkpoint is running.
                if let connection { sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) }
                state.withLock { state in
                    state.checkpointing = false
                    state.releaseIdleWaiters()
                }
            }
        }
    }

    private static func open(_ path: String) -> OpaquePointer? {
        var connection: OpaquePointer?
        // A new connection knows the file is in WAL mode only once it has read it; until then a checkpoint does nothing.
        guard sqlite3_open_v2(path, &connection, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
            sqlite3_exec(connection, "SELECT count(*) FROM sqlite_master", nil, nil, nil) == SQLITE_OK
        else {
            // Nothing is lost: the log keeps the frames, and the writer checkpoints itself once it is long.
            sqlite3_close_v2(connection)
            return nil
        }
        return connection
    }
}
