import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What `stat` says about a path, symbolic links followed.
struct StoreFileStatus: Sendable, Equatable {
    enum Kind: Sendable, Equatable { case regular, directory, other }

    /// A file's identity on its device: two paths that reach one file (links) share it.
    struct Identity: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    var kind: Kind
    var identity: Identity
    var size: Int
    /// Seconds since 1970.
    var modified: Double
}

/// The few file-system questions the store asks, answered without ever reading a file's
/// contents (except small text files) and without following a symbolic link twice.
enum StoreFileSystem {
    /// The status of `path` with links followed, or why there is none (missing, a dangling
    /// link, a link loop, no permission).
    static func status(_ path: String) -> Result<StoreFileStatus, StoreProblem> {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT, isSymbolicLink(path) { return .failure(StoreProblem("a dangling symbolic link")) }
            if code == ELOOP { return .failure(StoreProblem("a loop of symbolic links")) }
            return .failure(StoreProblem(String(cString: strerror(code)).lowercased()))
        }
        let kind: StoreFileStatus.Kind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        default: kind = .other
        }
        #if canImport(Darwin)
        let modified = Double(info.st_mtimespec.tv_sec) + Double(info.st_mtimespec.tv_nsec) * 1e-9
        #else
        let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) * 1e-9
        #endif
        return .success(StoreFileStatus(
            kind: kind, identity: .init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)),
            size: Int(info.st_size), modified: modified))
    }

    static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    static func isDirectory(_ path: String) -> Bool {
        if case .success(let status) = status(path) { return status.kind == .directory }
        return false
    }

    static func isRegularFile(_ path: String) -> Bool {
        if case .success(let status) = status(path) { return status.kind == .regular }
        return false
    }

    /// The names in `directory`, sorted, hidden ones (`.name`) left out.
    static func names(in directory: String) -> Result<[String], StoreProblem> {
        guard let handle = opendir(directory) else {
            return .failure(StoreProblem(String(cString: strerror(errno)).lowercased()))
        }
        closedir(handle)
        do {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            return .success(names.filter { !$0.hasPrefix(".") }.sorted())
        } catch {
            if case .failure(let problem) = status(directory) { return .failure(problem) }
            return .failure(StoreProblem("the folder cannot be read"))
        }
    }

    /// The contents of a small regular text file (a manifest, a ref), or why not. Files over
    /// `limit` bytes are refused unread.
    static func smallText(_ path: String, limit: Int = 1 << 20) -> Result<Data, StoreProblem> {
        switch status(path) {
        case .failure(let problem):
            return .failure(problem)
        case .success(let status):
            guard status.kind == .regular else { return .failure(StoreProblem("not a regular file")) }
            guard status.size <= limit else {
                return .failure(StoreProblem("\(status.size) bytes, too large for a manifest"))
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                return .failure(StoreProblem("the file cannot be read"))
            }
            return .success(data)
        }
    }

    /// Joins `name` to `folder` with one slash.
    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }
}

/// Why a path was skipped.
struct StoreProblem: Error, Sendable, Equatable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Walks folders for `.gguf` files, at most `depth` folders down, entering each folder once
/// (by device and inode) so that linked folders cannot loop.
struct GGUFFileWalker {
    struct Found: Sendable {
        /// The folder the file was found in, as walked (not resolved).
        var folder: String
        var path: String
        var status: StoreFileStatus
    }

    private var entered: Set<StoreFileStatus.Identity> = []
    private(set) var skipped: [ModelStoreSkip] = []

    /// Forgets the folders entered so far, so that a new tree may be walked that shares some
    /// (an LM Studio folder linked into the Hugging Face cache).
    mutating func forgetEnteredFolders() { entered = [] }

    /// The `.gguf` files under `root`, folder by folder in name order.
    mutating func files(under root: String, depth: Int) -> [Found] {
        var found: [Found] = []
        walk(root, depth: depth, into: &found)
        return found
    }

    private mutating func walk(_ folder: String, depth: Int, into found: inout [Found]) {
        switch StoreFileSystem.status(folder) {
        case .failure(let problem):
            skipped.append(ModelStoreSkip(path: folder, reason: problem.reason))
            return
        case .success(let status):
            guard status.kind == .directory, entered.insert(status.identity).inserted else { return }
        }
        let names: [String]
        switch StoreFileSystem.names(in: folder) {
        case .failure(let problem):
            skipped.append(ModelStoreSkip(path: folder, reason: problem.reason))
            return
        case .success(let list):
            names = list
        }
        var subfolders: [String] = []
        for name in names {
            let path = StoreFileSystem.join(folder, name)
            let isGGUF = name.lowercased().hasSuffix(".gguf")
            switch StoreFileSystem.status(path) {
            case .failure(let problem):
                if isGGUF { skipped.append(ModelStoreSkip(path: path, reason: problem.reason)) }
            case .success(let status):
                switch status.kind {
                case .regular where isGGUF:
                    found.append(Found(folder: folder, path: path, status: status))
                case .directory where depth > 0:
                    subfolders.append(path)
                case .other where isGGUF:
                    skipped.append(ModelStoreSkip(path: path, reason: "not a regular file"))
                default:
                    break
                }
            }
        }
        for subfolder in subfolders { walk(subfolder, depth: depth - 1, into: &found) }
    }
}
