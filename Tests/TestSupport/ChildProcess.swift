public import Foundation
import Synchronization

/// What a child process printed, and how it ended.
public struct ChildOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Child processes for tests, awaited without holding a thread.
///
/// Every suite shares one cooperative pool, as wide as the machine's cores (two on CI). A thread blocked in
/// `waitUntilExit`, in a pipe read or in a `static let` that runs a command stalls every other test's connection pool
/// and timers: PostgreSQL acquire timeouts fired in CI for that reason alone.
public enum ChildProcess {
    /// Runs `executable` to its end; stdout and stderr go through files, so a chatty child never blocks on a full pipe
    /// and a server it leaves behind cannot hold a pipe open.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, standardInput: FileHandle? = nil
    ) async throws -> ChildOutput {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out")
        let err = folder.appendingPathComponent("err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let standardInput { process.standardInput = standardInput }
        let outHandle = try FileHandle(forWritingTo: out)
        let errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        let status = try await start(process)
        try? outHandle.close()
        try? errHandle.close()
        return ChildOutput(
            status: status, stdout: String(decoding: (try? Data(contentsOf: out)) ?? Data(), as: UTF8.self),
            stderr: String(decoding: (try? Data(contentsOf: err)) ?? Data(), as: UTF8.self))
    }

    /// Starts `process` and returns its exit status once it has ended.
    public static func start(_ process: Process) async throws -> Int32 {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
    }

    /// The exit status of a process started earlier, once it has ended (it may have already).
    public static func exit(of process: Process) async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let once = Once(continuation)
            process.terminationHandler = { once.resume($0.terminationStatus) }
            if !process.isRunning { once.resume(process.terminationStatus) }
        }
    }

    /// Reads from `handle` until `complete` accepts what arrived, or end of file; the reads happen on Foundation's
    /// own thread (`readabilityHandler`), not on the cooperative pool.
    public static func read(_ handle: FileHandle, until complete: @escaping @Sendable (String) -> Bool) async -> String {
        await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            let text = Mutex("")
            let once = Once(continuation)
            handle.readabilityHandler = { handle in
                let data = handle.availableData
                let (now, done) = text.withLock { text -> (String, Bool) in
                    text += String(decoding: data, as: UTF8.self)
                    return (text, data.isEmpty || complete(text))
                }
                if done {
                    handle.readabilityHandler = nil
                    once.resume(now)
                }
            }
        }
    }
}

/// Resumes a continuation at most once, whichever caller comes first.
private final class Once<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Never>?>
    init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = Mutex(continuation) }
    func resume(_ value: T) {
        let pending = continuation.withLock { value in
            defer { value = nil }
            return value
        }
        pending?.resume(returning: value)
    }
}
