import Foundation

/// Writes a GGUF file whose tensors are too large to hold at once: the metadata and every
/// tensor's name, shape and type are fixed up front (so the offsets are known), then each
/// tensor's bytes are written in that order, one at a time. The file appears under its name
/// only when `finish()` succeeds (it is written to `PATH.partial` and renamed); a writer
/// dropped before that removes the partial file.
///
///     let writer = try GGUFStreamWriter(path: "out.gguf", metadata: keys, tensors: plans)
///     for plan in plans { try writer.write(bytes(of: plan), for: plan.name) }
///     try writer.finish()
public final class GGUFStreamWriter {
    /// One tensor of the file: its name, GGUF dimensions (innermost first) and type.
    public struct TensorPlan: Sendable, Equatable {
        public var name: String
        public var dimensions: [Int]
        public var type: GGMLType

        public init(name: String, dimensions: [Int], type: GGMLType) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
        }

        /// Bytes of its data, nil when the shape does not fit the type's blocks.
        public var byteCount: Int? {
            guard dimensions.allSatisfy({ $0 >= 0 }),
                  let count = type.byteCount(elementCount: UInt64(dimensions.reduce(1, *))) else { return nil }
            return Int(count)
        }
    }

    public let path: String
    public let alignment: Int
    public let tensors: [TensorPlan]
    private let handle: FileHandle
    private let partialPath: String
    private var next = 0
    /// Bytes of tensor `next` written so far by `writePart`.
    private var partWritten = 0
    private var finished = false

    /// Creates `path.partial` and writes the header. `metadata` keeps its order; an alignment
    /// other than 32 is written as `general.alignment`.
    public init(path: String, metadata: [(key: String, value: GGUFValue)], tensors: [TensorPlan],
                alignment: Int = 32, version: UInt32 = 3) throws(GGUFError) {
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError(file: path, kind: .invalidAlignment("\(alignment)"))
        }
        var seen = Set<String>()
        var sized: [(name: String, dimensions: [Int], type: GGMLType, byteCount: Int)] = []
        for tensor in tensors {
            guard seen.insert(tensor.name).inserted else { throw GGUFError(file: path, kind: .duplicateTensor(tensor.name)) }
            guard let count = tensor.byteCount else {
                throw GGUFError(file: path, kind: .invalidDimensions(tensor: tensor.name,
                                                                     dimensions: tensor.dimensions.map { UInt64(max($0, 0)) }))
            }
            sized.append((tensor.name, tensor.dimensions, tensor.type, count))
        }
        var keys = metadata.filter { $0.key != "general.alignment" }
        if alignment != 32 { keys.insert(("general.alignment", .uint32(UInt32(alignment))), at: 0) }
        self.path = path
        self.alignment = alignment
        self.tensors = tensors
        partialPath = path + ".partial"
        guard FileManager.default.createFile(atPath: partialPath, contents: nil),
              let handle = FileHandle(forWritingAtPath: partialPath) else {
            throw GGUFError(file: path, kind: .writeFailed(reason: "cannot create \(partialPath)"))
        }
        self.handle = handle
        try append(GGUFWriter.header(version: version, alignment: alignment, metadata: keys, tensors: sized))
    }

    deinit {
        if !finished {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: partialPath)
        }
    }

    /// The name of the tensor `write` expects next, nil when all are written.
    public var nextTensor: String? { next < tensors.count ? tensors[next].name : nil }

    /// Writes the data of the next tensor, which must be `name`, with exactly its byte count.
    public func write(_ bytes: UnsafeRawBufferPointer, for name: String) throws(GGUFError) {
        let expected = try expectNext(name)
        guard partWritten == 0, bytes.count == expected else {
            throw GGUFError(file: path, kind: .writeFailed(
                reason: "tensor '\(name)' has \(partWritten + bytes.count) bytes of data, but its shape and type take \(expected)"))
        }
        try append(bytes)
        try completeTensor(byteCount: expected)
    }

    /// Writes the next piece of the next tensor's data, which must be `name`; once the pieces
    /// add up to its byte count the tensor is complete. Lets a tensor be produced in slabs of
    /// rows without holding all of it.
    public func writePart(_ bytes: UnsafeRawBufferPointer, for name: String) throws(GGUFError) {
        let expected = try expectNext(name)
        guard partWritten + bytes.count <= expected else {
            throw GGUFError(file: path, kind: .writeFailed(
                reason: "tensor '\(name)' has more than the \(expected) bytes its shape and type take"))
        }
        try append(bytes)
        partWritten += bytes.count
        if partWritten == expected { try completeTensor(byteCount: expected) }
    }

    private func expectNext(_ name: String) throws(GGUFError) -> Int {
        guard next < tensors.count, tensors[next].name == name else {
            throw GGUFError(file: path, kind: .writeFailed(
                reason: "tensor '\(name)' was written out of order (expected \(nextTensor.map { "'\($0)'" } ?? "no more tensors"))"))
        }
        return tensors[next].byteCount!
    }

    private func completeTensor(byteCount: Int) throws(GGUFError) {
        let padding = (byteCount + alignment - 1) / alignment * alignment - byteCount
        if padding > 0 { try append([UInt8](repeating: 0, count: padding)) }
        next += 1
        partWritten = 0
    }

    /// Writes the data of the next tensor, which must be `name`, in pieces, so that a large
    /// tensor never sits in memory whole: `produce` calls `sink` with consecutive byte ranges
    /// that together make exactly the tensor's byte count. Errors thrown by `produce` pass
    /// through unchanged; the writer's own are `GGUFError`s.
    public func write(_ name: String, producing produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let expected = try expectNext(name), index = next
        guard partWritten == 0 else {
            throw GGUFError(file: path, kind: .writeFailed(reason: "tensor '\(name)' was already partly written"))
        }
        if expected == 0 { return try completeTensor(byteCount: 0) }
        try produce { chunk throws(GGUFError) in
            guard next == index else {
                throw GGUFError(file: path, kind: .writeFailed(
                    reason: "tensor '\(name)' has more than the \(expected) bytes of data its shape and type take"))
            }
            try writePart(chunk, for: name)
        }
        guard next == index + 1 else {
            throw GGUFError(file: path, kind: .writeFailed(
                reason: "tensor '\(name)' has \(partWritten) bytes of data, but its shape and type take \(expected)"))
        }
    }

    public func write(_ bytes: [UInt8], for name: String) throws(GGUFError) {
        do {
            try bytes.withUnsafeBytes { try write($0, for: name) }
        } catch let error as GGUFError {
            throw error
        } catch {
            throw GGUFError(file: path, kind: .writeFailed(reason: "\(error)"))
        }
    }

    /// Checks that every tensor was written, flushes and renames the file into place.
    public func finish() throws(GGUFError) {
        guard next == tensors.count else {
            throw GGUFError(file: path, kind: .writeFailed(reason: "tensor '\(tensors[next].name)' was never written"))
        }
        do {
            try handle.synchronize()
            try handle.close()
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: partialPath, toPath: path)
        } catch {
            throw GGUFError(file: path, kind: .writeFailed(reason: error.localizedDescription))
        }
        finished = true
    }

    private func append(_ bytes: [UInt8]) throws(GGUFError) {
        do {
            try bytes.withUnsafeBytes { try append($0) }
        } catch let error as GGUFError {
            throw error
        } catch {
            throw GGUFError(file: path, kind: .writeFailed(reason: "\(error)"))
        }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) throws(GGUFError) {
        do {
            try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!),
                                              count: bytes.count, deallocator: .none))
        } catch {
            throw GGUFError(file: path, kind: .writeFailed(reason: error.localizedDescription))
        }
    }
}
