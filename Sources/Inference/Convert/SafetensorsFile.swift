import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element types a safetensors header may name. Only BF16, F16 and F32 convert; the others
/// are known so that their byte counts can be checked.
public enum SafetensorsDataType: String, Sendable, CaseIterable {
    case bf16 = "BF16", f16 = "F16", f32 = "F32", f64 = "F64"
    case i8 = "I8", u8 = "U8", i16 = "I16", u16 = "U16", i32 = "I32", u32 = "U32", i64 = "I64", u64 = "U64"
    case bool = "BOOL", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        case .bf16, .f16, .i16, .u16: return 2
        case .f32, .i32, .u32: return 4
        case .f64, .i64, .u64: return 8
        }
    }
}

/// One tensor of a safetensors file: where its bytes lie in the mapping.
public struct SafetensorsTensor: Sendable, Equatable {
    public let name: String
    public let dataType: SafetensorsDataType
    /// PyTorch order: the last dimension varies fastest.
    public let shape: [Int]
    /// Offset of the first byte from the start of the file.
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`), then
/// the data. The header is validated in full when the file is opened (lengths, offsets within
/// the data, no overlaps, byte counts that match the shapes), so reading a tensor later never
/// goes out of bounds. Tensor data is never copied.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    /// Tensors in data order.
    public let tensors: [SafetensorsTensor]
    /// `__metadata__`, string to string.
    public let metadata: [String: String]
    /// The whole file.
    public let bytes: UnsafeRawBufferPointer
    private let index: [String: Int]
    private let mapped: Bool

    /// The largest JSON header accepted (safetensors itself caps it at 100 MB).
    static let maximumHeaderLength = 100_000_000

    /// Maps and validates the file at `path`.
    public convenience init(path: String) throws(ConvertError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw ConvertError(file: path, kind: errno == ENOENT ? .missingFile : .cannotOpen(reason: String(cString: strerror(errno))))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw ConvertError(file: path, kind: .cannotOpen(reason: "it is not a regular file"))
        }
        let size = Int(info.st_size)
        guard size >= 8 else {
            throw ConvertError(file: path, kind: .corruptSafetensors(tensor: nil, reason: "the file has \(size) bytes, fewer than the 8-byte header length"))
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED else {
            throw ConvertError(file: path, kind: .cannotOpen(reason: "mmap failed: " + String(cString: strerror(errno))))
        }
        let view = UnsafeRawBufferPointer(start: UnsafeRawPointer(address), count: size)
        do {
            try self.init(bytes: view, path: path, mapped: true)
        } catch {
            munmap(address, size)
            throw error
        }
    }

    /// Parses safetensors bytes held in memory (copied); `name` stands for the file in errors.
    public convenience init(copying data: [UInt8], name: String) throws(ConvertError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.withUnsafeBytes { source in
            if let base = source.baseAddress { buffer.baseAddress!.copyMemory(from: base, byteCount: source.count) }
        }
        do {
            try self.init(bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<data.count]),
                          path: name, mapped: false)
        } catch {
            buffer.deallocate()
            throw error
        }
    }

    private init(bytes: UnsafeRawBufferPointer, path: String, mapped: Bool) throws(ConvertError) {
        self.bytes = bytes
        self.path = path
        self.mapped = mapped
        let parsed = try Self.parseHeader(bytes, path: path)
        tensors = parsed.tensors
        metadata = parsed.metadata
        var index: [String: Int] = [:]
        for (position, tensor) in parsed.tensors.enumerated() { index[tensor.name] = position }
        self.index = index
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    public func tensor(named name: String) -> SafetensorsTensor? { index[name].map { tensors[$0] } }

    /// The bytes of `tensor`, a view into the mapping; bounds were checked when the file was opened.
    public func data(for tensor: SafetensorsTensor) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[tensor.fileOffset..<(tensor.fileOffset + tensor.byteCount)])
    }

    // MARK: Header

    private static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String)
        throws(ConvertError) -> (tensors: [SafetensorsTensor], metadata: [String: String]) {
        func corrupt(_ reason: String, tensor: String? = nil) -> ConvertError {
            ConvertError(file: path, kind: .corruptSafetensors(tensor: tensor, reason: reason))
        }
        guard bytes.count >= 8 else {
            throw corrupt("the file has \(bytes.count) bytes, fewer than the 8-byte header length")
        }
        var length: UInt64 = 0
        for byte in 0..<8 { length |= UInt64(bytes[byte]) << (8 * UInt64(byte)) }
        let available = bytes.count - 8
        guard length <= UInt64(available) else {
            throw corrupt("the header length is \(length) bytes, but only \(available) bytes follow it")
        }
        guard length <= UInt64(maximumHeaderLength) else {
            throw corrupt("the header length is \(length) bytes, more than the \(maximumHeaderLength) allowed")
        }
        guard length >= 2 else { throw corrupt("the header length is \(length) bytes, too short for a JSON object") }
        let headerEnd = 8 + Int(length)
        let json = Data(bytes[8..<headerEnd])
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json, options: [])
        } catch {
            throw corrupt("the header is not valid JSON")
        }
        guard let header = object as? [String: Any] else { throw corrupt("the header is not a JSON object") }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let entries = raw as? [String: Any] else { throw corrupt("__metadata__ is not an object") }
            for (key, value) in entries {
                guard let text = value as? String else { throw corrupt("__metadata__ key '\(key)' is not a string") }
                metadata[key] = text
            }
        }
        let dataSize = bytes.count - headerEnd
        var tensors: [SafetensorsTensor] = []
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any] else { throw corrupt("is not described by an object", tensor: name) }
            guard let typeName = entry["dtype"] as? String else { throw corrupt("has no dtype", tensor: name) }
            guard let dataType = SafetensorsDataType(rawValue: typeName) else {
                throw ConvertError(file: path, kind: .unsupportedDataType(tensor: name, dataType: typeName))
            }
            guard let shape = integers(entry["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw corrupt("has no valid shape (a list of non-negative integers)", tensor: name)
            }
            guard let offsets = integers(entry["data_offsets"]), offsets.count == 2 else {
                throw corrupt("has no valid data_offsets (two integers)", tensor: name)
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end else { throw corrupt("has data_offsets [\(begin), \(end)] that run backwards", tensor: name) }
            guard end <= dataSize else {
                throw corrupt("has data ending at byte \(end) of the data section, past its end (\(dataSize) bytes)", tensor: name)
            }
            var elements = 1
            for dimension in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw corrupt("has a shape \(shape) too large to address", tensor: name) }
                elements = product
            }
            let (expected, overflow) = elements.multipliedReportingOverflow(by: dataType.byteSize)
            guard !overflow, expected == end - begin else {
                throw corrupt("has \(end - begin) bytes of data, but shape \(shape) of \(typeName) takes \(overflow ? "more" : "\(expected)")",
                              tensor: name)
            }
            tensors.append(SafetensorsTensor(name: name, dataType: dataType, shape: shape,
                                             fileOffset: headerEnd + begin, byteCount: end - begin))
        }
        tensors.sort { ($0.fileOffset, $0.name) < ($1.fileOffset, $1.name) }
        for (previous, next) in zip(tensors, tensors.dropFirst())
        where previous.byteCount > 0 && next.fileOffset < previous.fileOffset + previous.byteCount {
            throw corrupt("overlaps the data of tensor '\(previous.name)'", tensor: next.name)
        }
        return (tensors, metadata)
    }

    /// A JSON list of integers (NSNumber holding whole numbers), or nil.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Int] = []
        for item in list {
            guard let number = item as? NSNumber, !isBoolean(number),
                  let integer = Int(exactly: number.doubleValue), Double(integer) == number.doubleValue else { return nil }
            out.append(integer)
        }
        return out
    }
}

/// Whether a JSON number is really `true` or `false` (both bridge to NSNumber).
private func isBoolean(_ number: NSNumber) -> Bool {
    String(cString: number.objCType) == "c"
}
