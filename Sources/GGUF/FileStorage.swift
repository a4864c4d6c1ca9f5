#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Immutable bytes that a `GGUFFile` views: a read-only memory map of a file, or an owned copy
/// of bytes handed in by a caller (tests, the fuzzer).
///
/// The pointer never changes and the memory is never written, so sharing across threads is safe.
final class FileStorage: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let release: (UnsafeRawBufferPointer) -> Void

    private init(bytes: UnsafeRawBufferPointer, release: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.bytes = bytes
        self.release = release
    }

    deinit { release(bytes) }

    /// Copies `data` into storage owned by the returned object.
    static func copying(_ data: [UInt8]) -> FileStorage {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.withUnsafeBytes { source in
            if let base = source.baseAddress, let target = buffer.baseAddress {
                target.copyMemory(from: base, byteCount: source.count)
            }
        }
        let view = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<data.count])
        return FileStorage(bytes: view) { _ in buffer.deallocate() }
    }

    /// Maps the file at `path` read-only. Throws `GGUFError` naming the file when it cannot be
    /// opened, is not a regular file, or is empty.
    static func mapping(path: String) throws(GGUFError) -> FileStorage {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw GGUFError(file: path, kind: .cannotOpen(reason: systemErrorText(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw GGUFError(file: path, kind: .cannotOpen(reason: systemErrorText(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError(file: path, kind: .cannotOpen(reason: "it is not a regular file"))
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw GGUFError(file: path, offset: 0, kind: .emptyFile) }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0),
              address != MAP_FAILED else {
            throw GGUFError(file: path, kind: .cannotOpen(reason: "mmap failed: " + systemErrorText(errno)))
        }
        let view = UnsafeRawBufferPointer(start: UnsafeRawPointer(address), count: size)
        return FileStorage(bytes: view) { bytes in
            _ = munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        }
    }
}

func systemErrorText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    return String(cString: text).lowercased()
}
