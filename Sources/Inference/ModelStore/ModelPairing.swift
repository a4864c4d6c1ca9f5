/// Pairs the text models of one folder (or one Hugging Face snapshot) with the projectors
/// beside them, and names the models of a repository that holds several quantizations.
enum ModelPairing {
    struct Pair: Sendable, Equatable {
        var model: ModelFileFacts
        /// A separate projector file, or the model itself when `embedded`.
        var projector: ModelFileFacts?
        var embedded: Bool
    }

    /// A projector: a clip file, or any file named `mmproj…`.
    static func isProjector(_ facts: ModelFileFacts) -> Bool {
        facts.isClip || fileName(facts.path).lowercased().hasPrefix("mmproj")
    }

    /// Each model among `files` with its projector: the model itself when it holds a vision
    /// tower, else the best of the projectors among `files` (see `projector(for:among:)`).
    static func pair(_ files: [ModelFileFacts]) -> [Pair] {
        let projectors = files.filter(isProjector)
        return files.filter { !isProjector($0) }.map { model in
            if model.holdsVision { return Pair(model: model, projector: model, embedded: true) }
            return Pair(model: model, projector: projector(for: model, among: projectors), embedded: false)
        }
    }

    /// The projector that goes with `model`: among those whose output width fits the model's
    /// embedding width (where both are written), the one whose file name carries the model's
    /// quantization tag, else the most precise (F16, BF16, Q8_0, F32, then any), else the
    /// first by name.
    static func projector(for model: ModelFileFacts, among projectors: [ModelFileFacts]) -> ModelFileFacts? {
        let fitting = projectors.filter { projector in
            guard let width = projector.projectionWidth, let length = model.embeddingLength else { return true }
            return width == length
        }
        let tag = quantizationTag(model.path)
        func rank(_ projector: ModelFileFacts) -> (Int, Int, String) {
            let projectorTag = quantizationTag(projector.path) ?? projector.quantization
            let matches = tag != nil && projectorTag?.uppercased() == tag ? 0 : 1
            let precision = ["F16", "BF16", "Q8_0", "F32"].firstIndex(of: projectorTag?.uppercased() ?? "") ?? 4
            return (matches, precision, fileName(projector.path))
        }
        return fitting.min { rank($0) < rank($1) }
    }

    /// The names of a repository's models: the repository's own when it holds one model (the
    /// tagged name as an alias), `repo:TAG` for each when it holds several. A tag is the
    /// quantization in the file name (`…-Q4_K_M.gguf`), else the file's quantization; where
    /// two models would share a tag, the file name without `.gguf` is used instead.
    static func repositoryNames(repository: String, models: [ModelFileFacts]) -> [(name: String, aliases: [String])] {
        let tags = models.map { quantizationTag($0.path) ?? $0.quantization ?? stem($0.path) }
        if models.count == 1 {
            return [(repository, ["\(repository):\(tags[0])"])]
        }
        var counts: [String: Int] = [:]
        for tag in tags { counts[tag.uppercased(), default: 0] += 1 }
        return zip(models, tags).map { model, tag -> (name: String, aliases: [String]) in
            let unique = counts[tag.uppercased()] == 1 ? tag : stem(model.path)
            return ("\(repository):\(unique)", [])
        }
    }

    /// The quantization named at the end of a file name, upper-cased: `Q4_K_M` for
    /// `gemma-3-4b-it-Q4_K_M.gguf` or `model.q4_k_m.gguf`, `F16` for `mmproj-model-f16.gguf`;
    /// nil when the name carries none.
    static func quantizationTag(_ path: String) -> String? {
        let parts = stem(path).split(whereSeparator: { $0 == "-" || $0 == "." }).map { $0.uppercased() }
        return parts.reversed().first(where: looksLikeQuantization)
    }

    private static func looksLikeQuantization(_ part: String) -> Bool {
        guard part.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return false }
        if ["F16", "BF16", "F32", "F64"].contains(part) || part.hasPrefix("MXFP4") || part.hasPrefix("NVFP4") { return true }
        for prefix in ["Q", "IQ", "TQ"] where part.hasPrefix(prefix) {
            if part.dropFirst(prefix.count).first?.isNumber == true { return true }
        }
        return false
    }

    /// The last path component.
    static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// The file name without `.gguf`.
    static func stem(_ path: String) -> String {
        let name = fileName(path)
        return name.lowercased().hasSuffix(".gguf") ? String(name.dropLast(5)) : name
    }

    /// `name-00002-of-00004.gguf` → (`name`, 2, 4): a shard of a split model.
    static func shard(_ path: String) -> (base: String, index: Int, count: Int)? {
        let parts = stem(path).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[parts.count - 2] == "of",
              let index = Int(parts[parts.count - 3]), let count = Int(parts[parts.count - 1]),
              parts[parts.count - 3].count == 5, count >= 1, (1...count).contains(index) else { return nil }
        return (parts.dropLast(3).joined(separator: "-"), index, count)
    }
}
