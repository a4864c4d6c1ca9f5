import Foundation

/// Ollama's store: `manifests/<host>/<namespace>/<model>/<tag>` (JSON naming layers by media
/// type and digest) and `blobs/sha256-<hex>` (the layers' contents).
extension ModelStoreScan {
    static let ollamaHost = "registry.ollama.ai"
    static let ollamaNamespace = "library"
    static let modelMediaType = "application/vnd.ollama.image.model"
    static let projectorMediaType = "application/vnd.ollama.image.projector"

    private struct Manifest: Decodable {
        struct Layer: Decodable {
            var mediaType: String
            var digest: String
            var size: Int?
        }
        var layers: [Layer]
    }

    mutating func ollamaEntries(root: String) -> [ModelStoreEntry] {
        let manifests = StoreFileSystem.join(root, "manifests")
        guard StoreFileSystem.isDirectory(manifests) else {
            skip(manifests, "no manifests folder, so no Ollama models")
            return []
        }
        var entries: [ModelStoreEntry] = []
        for host in subfolders(of: manifests) {
            for namespace in subfolders(of: host.path) {
                for model in subfolders(of: namespace.path) {
                    for tag in files(in: model.path) {
                        let reference = OllamaName(host: host.name, namespace: namespace.name, model: model.name, tag: tag.name)
                        guard wants([reference.name] + reference.aliases) else { continue }
                        if let entry = ollamaEntry(reference, manifest: tag.path, root: root) { entries.append(entry) }
                    }
                }
            }
        }
        return entries
    }

    private mutating func ollamaEntry(_ reference: OllamaName, manifest path: String, root: String) -> ModelStoreEntry? {
        let manifest: Manifest
        switch StoreFileSystem.smallText(path) {
        case .failure(let problem):
            skip(path, problem.reason)
            return nil
        case .success(let data):
            do {
                manifest = try JSONDecoder().decode(Manifest.self, from: data)
            } catch {
                skip(path, "not an Ollama manifest (malformed JSON or no layers)")
                return nil
            }
        }
        guard let modelLayer = manifest.layers.first(where: { $0.mediaType == Self.modelMediaType }) else {
            skip(path, "the manifest has no model layer (\(Self.modelMediaType))")
            return nil
        }
        guard let modelBlob = blobPath(modelLayer.digest, root: root) else {
            skip(path, "the model layer's digest '\(modelLayer.digest)' is not sha256:<64 hex digits>")
            return nil
        }
        guard let model = facts(path: modelBlob) else { return nil }
        guard !model.isClip else {
            skip(path, "the model layer is a projector (clip) file")
            return nil
        }
        var projector: ModelFileFacts?
        if let layer = manifest.layers.first(where: { $0.mediaType == Self.projectorMediaType }) {
            if let blob = blobPath(layer.digest, root: root) {
                projector = facts(path: blob)
            } else {
                skip(path, "the projector layer's digest '\(layer.digest)' is not sha256:<64 hex digits>")
            }
        }
        let embedded = projector == nil && model.holdsVision
        return ModelStoreEntry(
            name: reference.name, aliases: reference.aliases, source: .ollama, model: model.path,
            projector: embedded ? model.path : projector?.path, projectorEmbedded: embedded,
            family: model.architecture, projectorType: embedded ? model.projectorType : projector?.projectorType,
            quantization: model.quantization, sizeBytes: model.size + (projector?.size ?? 0))
    }

    /// `blobs/sha256-<hex>` for `sha256:<hex>`; nil for anything else (so a digest cannot
    /// name a path outside the blobs folder).
    private func blobPath(_ digest: String, root: String) -> String? {
        let parts = digest.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "sha256", parts[1].count == 64,
              parts[1].allSatisfy({ $0.isHexDigit && $0.isASCII }) else { return nil }
        return StoreFileSystem.join(root, "blobs/sha256-\(parts[1].lowercased())")
    }

    private struct Item {
        var name: String
        var path: String
    }

    /// The subfolders of `folder`; an unreadable one is skipped with its reason.
    private mutating func subfolders(of folder: String) -> [Item] {
        items(in: folder).filter { StoreFileSystem.isDirectory($0.path) }
    }

    /// The files (not folders) in `folder`: Ollama's tags.
    private mutating func files(in folder: String) -> [Item] {
        items(in: folder).filter { !StoreFileSystem.isDirectory($0.path) }
    }

    private mutating func items(in folder: String) -> [Item] {
        switch StoreFileSystem.names(in: folder) {
        case .failure(let problem):
            skip(folder, problem.reason)
            return []
        case .success(let names):
            return names.map { Item(name: $0, path: StoreFileSystem.join(folder, $0)) }
        }
    }
}

/// An Ollama model reference and the names Ollama prints for it: `gemma3:4b` in the default
/// registry and namespace, `user/model:tag` in another namespace, `host/namespace/model:tag`
/// on another host.
struct OllamaName: Sendable, Equatable {
    var host: String
    var namespace: String
    var model: String
    var tag: String

    var name: String {
        if host != ModelStoreScan.ollamaHost { return "\(host)/\(namespace)/\(model):\(tag)" }
        if namespace != ModelStoreScan.ollamaNamespace { return "\(namespace)/\(model):\(tag)" }
        return "\(model):\(tag)"
    }

    /// The longer spellings Ollama also accepts, for the default registry.
    var aliases: [String] {
        guard host == ModelStoreScan.ollamaHost else { return [] }
        var list = ["\(host)/\(namespace)/\(model):\(tag)"]
        if namespace == ModelStoreScan.ollamaNamespace { list.insert("\(namespace)/\(model):\(tag)", at: 0) }
        return list
    }
}
