public import LedgerCore
public import NIOCore
import _NIOFileSystem

/// Where artifact files live: written whole and atomically, read in ranges, listed by folder. Paths are already
/// validated (``ArtifactPath``); an implementation keeps every file it touches inside its root.
public protocol ArtifactStore: Sendable {
    /// Writes `body` to `path`, replacing a file there only once every byte has arrived: a reader sees the old file or
    /// the new one, never a part. Returns the number of bytes written.
    /// - Throws: ``ArtifactStoreError/tooLarge(limit:)`` past `maxBytes` (nothing is kept), ``LedgerError`` for a path
    ///   that is a folder or lies under a file.
    func write(_ path: ArtifactPath, from body: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64) async throws -> Int64

    /// The entry at `path` (its name as `path`), or nil when nothing is there.
    func entry(at path: ArtifactPath) async throws -> ArtifactEntry?

    /// Hands the bytes of `range` of the file at `path` to `chunk`, in order, a bounded chunk at a time.
    /// - Throws: ``LedgerError`` `RESOURCE_DOES_NOT_EXIST` when there is no file.
    func read(_ path: ArtifactPath, range: Range<Int64>, into chunk: (ByteBuffer) async throws -> Void) async throws

    /// The entries directly inside the folder `path`, by name; empty when there is no such folder.
    func list(_ path: ArtifactPath) async throws -> [ArtifactEntry]

    /// Removes the file or folder (with everything in it) at `path`; nothing there is not an error, as in MLflow.
    func delete(_ path: ArtifactPath) async throws
}

/// Failures of an artifact store that a client can act on; everything else is the server's problem.
public enum ArtifactStoreError: Error, Sendable, Equatable {
    /// The upload passed the server's `--max-artifact-size`.
    case tooLarge(limit: Int64)
    /// The disk holding the artifacts is full.
    case noSpace
}

extension ArtifactStore {
    /// Writes `bytes` to `path` (small files: text, JSON, a CLI upload read whole).
    @discardableResult
    public func write(_ path: ArtifactPath, bytes: ByteBuffer, maxBytes: Int64 = .max) async throws -> Int64 {
        try await write(path, from: OneBuffer(buffer: bytes), maxBytes: maxBytes)
    }

    /// Uploads the local file `file` to `path`, streamed from disk.
    @discardableResult
    public func upload(file: String, to path: ArtifactPath, maxBytes: Int64 = .max) async throws -> Int64 {
        try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file)) { handle in
            try await write(path, from: handle.readChunks(chunkLength: .kibibytes(256)), maxBytes: maxBytes)
        }
    }

    /// Downloads the file at `path` to the local file `destination`, streamed to disk: written beside it under a
    /// temporary name and renamed into place, so an interrupted download leaves no partial file behind its name.
    @discardableResult
    public func download(_ path: ArtifactPath, to destination: String) async throws -> Int64 {
        guard let entry = try await entry(at: path), !entry.isDirectory, let size = entry.size else {
            throw LedgerError(.resourceDoesNotExist, "No artifact file '\(path)'.")
        }
        let target = FilePath(destination)
        let partial = FilePath(destination + ".part")
        do {
            try await FileSystem.shared.withFileHandle(forWritingAt: partial, options: .newFile(replaceExisting: true)) { handle in
                try await handle.withBufferedWriter { writer in
                    try await read(path, range: 0..<size) { chunk in _ = try await writer.write(contentsOf: chunk) }
                }
            }
            try await FileSystemArtifactStore.moveIntoPlace(partial, at: target)
        } catch {
            _ = try? await FileSystem.shared.removeItem(at: partial, strategy: .platformDefault, recursively: false)
            throw error
        }
        return size
    }

    /// Every file below `path`, depth first, with paths relative to `path`.
    public func files(under path: ArtifactPath) async throws -> [ArtifactEntry] {
        var found: [ArtifactEntry] = []
        var folders: [(ArtifactPath, String)] = [(path, "")]
        while let (folder, prefix) = folders.popLast() {
            for entry in try await list(folder) {
                let relative = prefix.isEmpty ? entry.path : prefix + "/" + entry.path
                if entry.isDirectory {
                    folders.append((folder.appending(try ArtifactPath(validating: entry.path)), relative))
                } else {
                    found.append(ArtifactEntry(path: relative, isDirectory: false, size: entry.size))
                }
            }
        }
        return found.sorted { $0.path < $1.path }
    }
}

/// An async sequence of one buffer.
struct OneBuffer: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let buffer: ByteBuffer

    struct AsyncIterator: AsyncIteratorProtocol {
        var buffer: ByteBuffer?
        mutating func next() async throws -> ByteBuffer? {
            defer { buffer = nil }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: buffer) }
}
