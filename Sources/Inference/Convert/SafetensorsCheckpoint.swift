import Foundation

/// The weights of a Hugging Face checkpoint folder: one `model.safetensors`, or shards listed
/// by `model.safetensors.index.json` (`{"weight_map": {"tensor": "file"}}`), or, without an
/// index, every `*.safetensors` file in the folder. Every file stays mapped; nothing is read
/// until a tensor is converted.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    public let folder: String
    public let files: [SafetensorsFile]
    private let locations: [String: (file: Int, tensor: SafetensorsTensor)]
    /// Tensor names in file order, then data order.
    public let tensorNames: [String]

    public static let indexName = "model.safetensors.index.json"

    public init(folder: String) throws(ConvertError) {
        self.folder = folder
        let manager = FileManager.default
        let indexPath = folder + "/" + Self.indexName
        var names: [String]
        var weightMap: [String: String]?
        if manager.fileExists(atPath: indexPath) {
            let index = try JSONFile(path: indexPath)
            guard let map = index.root["weight_map"] as? [String: Any] else {
                throw ConvertError(file: indexPath, kind: .missingKey("weight_map"))
            }
            var files: [String: String] = [:]
            for (tensor, file) in map {
                guard let file = file as? String, !file.contains("/") else {
                    throw ConvertError(file: indexPath, kind: .invalidValue(key: "weight_map.\(tensor)", value: "\(file)",
                                                                            reason: "it must name a file in the same folder"))
                }
                files[tensor] = file
            }
            weightMap = files
            names = Array(Set(files.values)).sorted()
        } else {
            let listing = (try? manager.contentsOfDirectory(atPath: folder)) ?? []
            names = listing.filter { $0.hasSuffix(".safetensors") }.sorted()
            guard !names.isEmpty else {
                throw ConvertError(file: folder + "/model.safetensors", kind: .missingFile)
            }
        }
        var files: [SafetensorsFile] = []
        var locations: [String: (file: Int, tensor: SafetensorsTensor)] = [:]
        var order: [String] = []
        for name in names {
            let file = try SafetensorsFile(path: folder + "/" + name)
            for tensor in file.tensors {
                if let map = weightMap, map[tensor.name] != name { continue }   // listed under another shard
                guard locations[tensor.name] == nil else {
                    throw ConvertError(file: file.path, kind: .duplicateTensor(tensor.name))
                }
                locations[tensor.name] = (files.count, tensor)
                order.append(tensor.name)
            }
            files.append(file)
        }
        if let map = weightMap {
            for (tensor, file) in map.sorted(by: { $0.key < $1.key }) where locations[tensor] == nil {
                throw ConvertError(file: folder + "/" + file, kind: .missingTensor(tensor))
            }
        }
        self.files = files
        self.locations = locations
        tensorNames = order
    }

    public func contains(_ name: String) -> Bool { locations[name] != nil }

    /// The tensor `name` and the file holding it, or an error naming the folder and tensor.
    public func tensor(_ name: String) throws(ConvertError) -> (file: SafetensorsFile, tensor: SafetensorsTensor) {
        guard let location = locations[name] else { throw ConvertError(file: folder, kind: .missingTensor(name)) }
        return (files[location.file], location.tensor)
    }

    /// The PyTorch shape of `name`, nil when absent.
    public func shape(of name: String) -> [Int]? { locations[name]?.tensor.shape }
}

/// A JSON file read with `JSONSerialization`, with errors that name the file and key.
struct JSONFile {
    let path: String
    let root: [String: Any]

    init(path: String) throws(ConvertError) {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConvertError(file: path, kind: FileManager.default.fileExists(atPath: path)
                               ? .cannotOpen(reason: "it cannot be read") : .missingFile)
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw ConvertError(file: path, kind: .invalidJSON(reason: "the parser stopped (\(Self.reason(error)))"))
        }
        guard let root = object as? [String: Any] else {
            throw ConvertError(file: path, kind: .invalidJSON(reason: "the top level is not an object"))
        }
        self.root = root
    }

    /// The file if it exists, nil otherwise; a file that exists but is not JSON still throws.
    static func optional(_ path: String) throws(ConvertError) -> JSONFile? {
        FileManager.default.fileExists(atPath: path) ? try JSONFile(path: path) : nil
    }

    private static func reason(_ error: any Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        return text ?? "malformed input"
    }
}
