import Foundation
public import LedgerCore
public import NIOCore
import NIOPosix
import _NIOFileSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Artifacts as files below a folder: a local disk by default, any shared mount for several servers. File I/O runs on
/// NIO's file-system thread pool, never on the caller's.
///
/// An upload goes to a hidden folder inside the root and is renamed into place when complete (`rename(2)` replaces
/// atomically on one file system). Symbolic links inside the root are never followed, so nothing outside it is read
/// or written, whatever a path names.
public struct FileSystemArtifactStore: ArtifactStore {
    /// The folder holding every artifact.
    public var rootPath: String { root.string }
    private let root: FilePath
    /// Where uploads are written before they are complete; left out of listings and refused as a path.
    static let uploads = ".runledger-uploads"
    private var fileSystem: FileSystem { .shared }

    /// A store over `root`; nothing is created until ``prepare()``.
    public init(root: String) {
        self.root = FilePath(root).lexicallyNormalized()
    }

    /// Creates the root and its upload folder, and removes uploads a stopped server left unfinished: those untouched
    /// for an hour, since another server sharing this root may be receiving one right now (a live upload writes at
    /// least every few seconds, or the server drops it).
    public func prepare() async throws {
        let uploads = root.appending(Self.uploads)
        try await fileSystem.createDirectory(at: uploads, withIntermediateDirectories: true, permissions: nil)
        let cutoff = Int(Date().timeIntervalSince1970) - 3600
        try await fileSystem.withDirectoryHandle(atPath: uploads) { directory in
            for try await batch in directory.listContents().batched() {
                for item in batch {
                    guard let info = try await fileSystem.info(forFileAt: item.path, infoAboutSymbolicLink: true),
                        info.lastDataModificationTime.seconds < cutoff
                    else { continue }
                    _ = try? await fileSystem.removeItem(at: item.path, strategy: .platformDefault, recursively: true)
                }
            }
        }
    }

    public func write(_ path: ArtifactPath, from body: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64) async throws -> Int64 {
        guard !path.isRoot else { throw LedgerError(.invalidParameterValue, "An artifact upload needs a file name.") }
        try await checkInside(path)
        let parent = location(of: path.parent)
        do {
            try await fileSystem.createDirectory(at: parent, withIntermediateDirectories: true, permissions: nil)
        } catch let error as FileSystemError where error.code != .resourceExhausted && !Self.isNoSpace(error) {
            throw LedgerError(.invalidParameterValue, "Cannot write '\(path)': a file is where a folder of its path should be.")
        }
        // Present after prepare(); created here too for a CLI that writes beside a running server without preparing.
        try await fileSystem.createDirectory(at: root.appending(Self.uploads), withIntermediateDirectories: true, permissions: nil)
        let temporary = root.appending(Self.uploads).appending(Self.uniqueName())
        var written: Int64 = 0
        do {
            try await fileSystem.withFileHandle(forWritingAt: temporary, options: .newFile(replaceExisting: false)) { handle in
                try await handle.withBufferedWriter { writer in
                    for try await chunk in body {
                        written += Int64(chunk.readableBytes)
                        guard written <= maxBytes else { throw ArtifactStoreError.tooLarge(limit: maxBytes) }
                        _ = try await writer.write(contentsOf: chunk)
                    }
                }
            }
            try await Self.moveIntoPlace(temporary, at: location(of: path))
        } catch {
            _ = try? await fileSystem.removeItem(at: temporary, strategy: .platformDefault, recursively: false)
            if Self.isNoSpace(error) { throw ArtifactStoreError.noSpace }
            if case Errno.isDirectory? = error as? Errno {
                throw LedgerError(.invalidParameterValue, "Cannot write '\(path)': it is a folder of artifacts.")
            }
            throw error
        }
        return written
    }

    public func entry(at path: ArtifactPath) async throws -> ArtifactEntry? {
        try await checkInside(path)
        guard let info = try await fileSystem.info(forFileAt: location(of: path), infoAboutSymbolicLink: true) else { return nil }
        switch info.type {
        case .directory: return ArtifactEntry(path: path.name, isDirectory: true, size: nil)
        case .regular: return ArtifactEntry(path: path.name, isDirectory: false, size: info.size)
        default: return nil
        }
    }

    public func read(_ path: ArtifactPath, range: Range<Int64>, into chunk: (ByteBuffer) async throws -> Void) async throws {
        guard let entry = try await entry(at: path), !entry.isDirectory else {
            throw LedgerError(.resourceDoesNotExist, "No artifact file '\(path)'.")
        }
        guard !range.isEmpty else { return }
        try await fileSystem.withFileHandle(forReadingAt: location(of: path), options: OpenOptions.Read(followSymbolicLinks: false)) {
            handle in
            for try await buffer in handle.readChunks(in: range, chunkLength: .kibibytes(256)) {
                try await chunk(buffer)
            }
        }
    }

    public func list(_ path: ArtifactPath) async throws -> [ArtifactEntry] {
        try await checkInside(path)
        guard let info = try await fileSystem.info(forFileAt: location(of: path), infoAboutSymbolicLink: true), info.type == .directory else {
            return []
        }
        var entries: [ArtifactEntry] = []
        try await fileSystem.withDirectoryHandle(atPath: location(of: path)) { directory in
            for try await batch in directory.listContents().batched() {
                for item in batch where !(path.isRoot && item.name.string == Self.uploads) {
                    switch item.type {
                    case .directory: entries.append(ArtifactEntry(path: item.name.string, isDirectory: true, size: nil))
                    case .regular:
                        let size = try await fileSystem.info(forFileAt: item.path, infoAboutSymbolicLink: true)?.size
                        entries.append(ArtifactEntry(path: item.name.string, isDirectory: false, size: size ?? 0))
                    default: continue  // links and devices are not artifacts
                    }
                }
            }
        }
        return entries.sorted { $0.path < $1.path }
    }

    public func delete(_ path: ArtifactPath) async throws {
        guard !path.isRoot else { throw LedgerError(.invalidParameterValue, "Deleting every artifact at once is refused; name a folder.") }
        try await checkInside(path)
        try await fileSystem.removeItem(at: location(of: path), strategy: .platformDefault, recursively: true)
    }

    // MARK: Paths

    func location(of path: ArtifactPath) -> FilePath {
        var location = root
        for component in path.components { location.append(component) }
        return location
    }

    /// Refuses the upload folder and any path through a symbolic link below the root.
    private func checkInside(_ path: ArtifactPath) async throws {
        guard path.components.first != Self.uploads else {
            throw LedgerError(.invalidParameterValue, "Invalid artifact path '\(path)': '\(Self.uploads)' is reserved.")
        }
        var location = root
        for component in path.components {
            location.append(component)
            guard let info = try await fileSystem.info(forFileAt: location, infoAboutSymbolicLink: true) else { return }
            if info.type == .symlink {
                throw LedgerError(.invalidParameterValue, "Invalid artifact path '\(path)': it goes through a link, which is not followed.")
            }
        }
    }

    private static func uniqueName() -> String {
        String(UInt64.random(in: .min ... .max), radix: 16) + String(UInt64.random(in: .min ... .max), radix: 16)
    }

    /// `rename(2)`: atomic, and replaces a file already at `destination`.
    static func moveIntoPlace(_ source: FilePath, at destination: FilePath) async throws {
        let result = try await NIOThreadPool.singleton.runIfActive { () -> Int32 in
            source.withPlatformString { from in destination.withPlatformString { to in rename(from, to) == 0 ? 0 : errno } }
        }
        if result != 0 { throw Errno(rawValue: result) }
    }

    private static func isNoSpace(_ error: any Error) -> Bool {
        var current: (any Error)? = error
        while let error = current {
            if let errno = error as? Errno, errno == .noSpace { return true }
            if let call = error as? FileSystemError.SystemCallError, call.errno == .noSpace { return true }
            current = (error as? FileSystemError)?.cause
        }
        return false
    }
}
