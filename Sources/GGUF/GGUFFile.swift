/// A parsed GGUF file (versions 2 and 3): metadata, tensor infos, and views of the tensor data.
///
/// The file is memory-mapped, never copied; tensor data views point into the map and live as
/// long as this object. Parsing validates everything a later reader relies on (see
/// `GGUFError.Kind`), so a corrupt file gives an error naming the file and byte offset instead of
/// a crash, a hang or a huge allocation.
public final class GGUFFile: Sendable {
    /// The path (or, for in-memory files, the name) used in error messages.
    public let path: String
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// Offset of the data section from the start of the file.
    public let dataOffset: Int
    /// Size of the whole file in bytes.
    public var fileSize: Int { storage.bytes.count }

    private let storage: FileStorage
    private let metadataIndex: [String: Int]
    private let tensorIndex: [String: Int]

    /// Maps and parses the file at `path`.
    public convenience init(path: String) throws(GGUFError) {
        try self.init(storage: FileStorage.mapping(path: path), name: path)
    }

    /// Parses GGUF bytes held in memory; `name` stands for the file in error messages.
    public convenience init(bytes: [UInt8], name: String = "<memory>") throws(GGUFError) {
        guard !bytes.isEmpty else { throw GGUFError(file: name, offset: 0, kind: .emptyFile) }
        try self.init(storage: FileStorage.copying(bytes), name: name)
    }

    private init(storage: FileStorage, name: String) throws(GGUFError) {
        self.storage = storage
        self.path = name
        let parsed = try GGUFParser.parse(storage.bytes, file: name)
        version = parsed.version
        metadata = parsed.metadata
        tensors = parsed.tensors
        alignment = parsed.alignment
        dataOffset = parsed.dataOffset
        var keys: [String: Int] = [:]
        for (index, entry) in parsed.metadata.enumerated() { keys[entry.key] = index }
        metadataIndex = keys
        var names: [String: Int] = [:]
        for (index, tensor) in parsed.tensors.enumerated() { names[tensor.name] = index }
        tensorIndex = names
    }

    /// A view of this file with other metadata and its tensors under other names (`rename`
    /// returns nil for a tensor to leave out), sharing the map: for reading a file written in
    /// another program's layout (Ollama's one-file vision models) with the readers of this one.
    public func view(metadata: [(key: String, value: GGUFValue)], renaming rename: (String) -> String?) -> GGUFFile {
        let renamed = tensors.compactMap { tensor in
            rename(tensor.name).map {
                GGUFTensorInfo(name: $0, dimensions: tensor.dimensions, type: tensor.type,
                               relativeOffset: tensor.relativeOffset, fileOffset: tensor.fileOffset,
                               elementCount: tensor.elementCount, byteCount: tensor.byteCount)
            }
        }
        return GGUFFile(storage: storage, path: path, version: version, metadata: metadata, tensors: renamed,
                        alignment: alignment, dataOffset: dataOffset)
    }

    private init(storage: FileStorage, path: String, version: UInt32, metadata: [(key: String, value: GGUFValue)],
                 tensors: [GGUFTensorInfo], alignment: Int, dataOffset: Int) {
        self.storage = storage
        self.path = path
        self.version = version
        self.metadata = metadata
        self.tensors = tensors
        self.alignment = alignment
        self.dataOffset = dataOffset
        var keys: [String: Int] = [:]
        for (index, entry) in metadata.enumerated() { keys[entry.key] = index }
        metadataIndex = keys
        var names: [String: Int] = [:]
        for (index, tensor) in tensors.enumerated() { names[tensor.name] = index }
        tensorIndex = names
    }

    /// The value stored under `key`, or nil.
    public func value(forKey key: String) -> GGUFValue? {
        metadataIndex[key].map { metadata[$0].value }
    }

    /// The tensor named `name`, or nil.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor named `name`, or an error naming it.
    public func requireTensor(_ name: String) throws(GGUFError) -> GGUFTensorInfo {
        guard let tensor = tensor(named: name) else { throw GGUFError(file: path, kind: .missingTensor(name)) }
        return tensor
    }

    /// The raw bytes of a tensor's data. Valid for the lifetime of this object; bounds were
    /// checked when the file was parsed.
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage.bytes[tensor.fileOffset..<(tensor.fileOffset + tensor.byteCount)])
    }

    /// All bytes of the file.
    public var bytes: UnsafeRawBufferPointer { storage.bytes }
}
