import Foundation

/// The Hugging Face cache, LM Studio's models folder and plain folders: `.gguf` files paired
/// with the projectors beside them.
extension ModelStoreScan {
    /// `models--<org>--<name>/snapshots/<revision>/**/*.gguf`, from the revision `refs/main`
    /// names, else the newest snapshot; named `org/name` (`org/name:TAG` for several models).
    mutating func huggingFaceEntries(root: String) -> [ModelStoreEntry] {
        var entries: [ModelStoreEntry] = []
        for name in names(in: root) where name.hasPrefix("models--") {
            let folder = StoreFileSystem.join(root, name)
            let repository = name.dropFirst("models--".count).replacingOccurrences(of: "--", with: "/")
            guard !repository.isEmpty, wants([repository]), let snapshot = newestSnapshot(of: folder) else { continue }
            let found = walk(snapshot, depth: ModelStore.repositoryDepth, separate: true)
            entries += repositoryEntries(repository: repository, source: .huggingface, found: found)
        }
        return entries
    }

    /// `<publisher>/<repo>/*.gguf`, named `publisher/repo` (`publisher/repo:TAG` for several).
    mutating func lmStudioEntries(root: String) -> [ModelStoreEntry] {
        var entries: [ModelStoreEntry] = []
        for publisher in names(in: root) {
            let publisherFolder = StoreFileSystem.join(root, publisher)
            guard StoreFileSystem.isDirectory(publisherFolder) else { continue }
            for repository in names(in: publisherFolder) {
                let folder = StoreFileSystem.join(publisherFolder, repository)
                guard wants(["\(publisher)/\(repository)"]), StoreFileSystem.isDirectory(folder) else { continue }
                let found = walk(folder, depth: ModelStore.repositoryDepth - 1, separate: true)
                entries += repositoryEntries(repository: "\(publisher)/\(repository)", source: .lmstudio, found: found)
            }
        }
        return entries
    }

    /// Any `.gguf` up to `ModelStore.folderDepth` folders down, paired within its own folder;
    /// named after the file. When a name is wanted, only folders holding a file of that name
    /// are read.
    mutating func folderEntries(root: String) -> [ModelStoreEntry] {
        let found = walk(root, depth: ModelStore.folderDepth)
        var entries: [ModelStoreEntry] = []
        for folder in orderedFolders(found) where found.contains(where: { $0.folder == folder && wants([ModelPairing.stem($0.path)]) }) {
            for pair in ModelPairing.pair(readFacts(found.filter { $0.folder == folder }))
            where wants([ModelPairing.stem(pair.model.path)]) {
                entries.append(entry(pair, name: ModelPairing.stem(pair.model.path), aliases: [], source: .folder))
            }
        }
        return entries
    }

    /// The models of one repository (all its folders together), named after it.
    private mutating func repositoryEntries(repository: String, source: ModelSource,
                                            found: [GGUFFileWalker.Found]) -> [ModelStoreEntry] {
        let pairs = ModelPairing.pair(readFacts(found))
        let names = ModelPairing.repositoryNames(repository: repository, models: pairs.map(\.model))
        return zip(pairs, names).map { entry($0, name: $1.name, aliases: $1.aliases, source: source) }
    }

    private func entry(_ pair: ModelPairing.Pair, name: String, aliases: [String], source: ModelSource) -> ModelStoreEntry {
        let model = pair.model
        let separate = pair.embedded ? nil : pair.projector
        return ModelStoreEntry(
            name: name, aliases: aliases, source: source, model: model.path, projector: pair.projector?.path,
            projectorEmbedded: pair.embedded, family: model.architecture, projectorType: pair.projector?.projectorType,
            quantization: model.quantization, sizeBytes: model.size + (separate?.size ?? 0))
    }

    /// The facts of each found file that reads as GGUF. A split model's shards
    /// (`…-00001-of-00003.gguf`) are skipped: Ponder reads single-file models.
    private mutating func readFacts(_ found: [GGUFFileWalker.Found]) -> [ModelFileFacts] {
        var result: [ModelFileFacts] = []
        for file in found {
            if let shard = ModelPairing.shard(file.path) {
                if shard.index == 1 {
                    skip(file.path, "part 1 of a model split in \(shard.count) files; Ponder reads single-file GGUF models only")
                }
                continue
            }
            if let facts = facts(path: file.path, status: file.status) { result.append(facts) }
        }
        return result
    }

    /// The snapshot folder `refs/main` names, else the most recently modified one.
    private mutating func newestSnapshot(of repository: String) -> String? {
        let snapshots = StoreFileSystem.join(repository, "snapshots")
        guard StoreFileSystem.isDirectory(snapshots) else {
            skip(repository, "no snapshots folder")
            return nil
        }
        if case .success(let data) = StoreFileSystem.smallText(StoreFileSystem.join(repository, "refs/main"), limit: 256) {
            let revision = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let folder = StoreFileSystem.join(snapshots, revision)
            if !revision.isEmpty, !revision.contains("/"), revision != "..", StoreFileSystem.isDirectory(folder) {
                return folder
            }
        }
        var newest: (path: String, modified: Double)?
        for name in names(in: snapshots) {
            let folder = StoreFileSystem.join(snapshots, name)
            guard case .success(let status) = StoreFileSystem.status(folder), status.kind == .directory else { continue }
            if newest == nil || status.modified > newest!.modified { newest = (folder, status.modified) }
        }
        if newest == nil { skip(repository, "the snapshots folder is empty") }
        return newest?.path
    }

    /// The folders of `found`, in the order first met.
    private func orderedFolders(_ found: [GGUFFileWalker.Found]) -> [String] {
        var seen: Set<String> = []
        return found.map(\.folder).filter { seen.insert($0).inserted }
    }

    /// The names in `folder`; an unreadable folder is skipped with its reason.
    private mutating func names(in folder: String) -> [String] {
        switch StoreFileSystem.names(in: folder) {
        case .success(let names): return names
        case .failure(let problem):
            skip(folder, problem.reason)
            return []
        }
    }
}
