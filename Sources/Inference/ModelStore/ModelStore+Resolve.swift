/// What a `--model` value names: a file given by its path, or a model the store lists.
public struct ModelReference: Sendable, Equatable {
    /// The text model's file.
    public var model: String
    /// The store entry's projector (the model file itself when embedded); nil for a path.
    public var projector: String?
    /// The store entry, when the value was a listed name.
    public var entry: ModelStoreEntry?

    public init(model: String, projector: String? = nil, entry: ModelStoreEntry? = nil) {
        self.model = model
        self.projector = projector
        self.entry = entry
    }

    /// A short name for display: the listed name, or the file name without `.gguf`.
    public var displayName: String { entry?.name ?? ModelPairing.stem(model) }
}

extension ModelStore {
    /// What `value` names. An existing file always wins; a value that looks like a path
    /// (`/…`, `./…`, `~…`, `….gguf`) is taken as one, so a missing file gets the file's own
    /// error downstream. Anything else is looked up among the listed models (`lookUp`),
    /// reading only the files of models that could answer to it; an unknown name is looked
    /// up again in the whole listing, so that its error counts every model.
    public func resolve(_ value: String) throws(ModelStoreError) -> ModelReference {
        if case .success(let status) = StoreFileSystem.status(value), status.kind != .directory {
            return ModelReference(model: value)
        }
        if Self.looksLikePath(value) { return ModelReference(model: value) }
        let entry: ModelStoreEntry
        do {
            entry = try Self.lookUp(value, in: scan(matching: value))
        } catch where error.isUnknown {
            entry = try Self.lookUp(value, in: scan())
        }
        return ModelReference(model: entry.model, projector: entry.projector, entry: entry)
    }

    /// Whether `value` is meant as a file path rather than a listed name.
    public static func looksLikePath(_ value: String) -> Bool {
        value.hasPrefix("/") || value.hasPrefix("./") || value.hasPrefix("../") || value.hasPrefix("~")
            || value.lowercased().hasSuffix(".gguf")
    }

    /// The one listed model that answers to `name`: by its name or an alias, exactly, then
    /// ignoring case; then, for a name without a `:tag`, every model of that name whatever its
    /// tag (Ollama's `:latest` chosen among several). No match is an `unknown` error naming
    /// every folder looked in; several are an `ambiguous` one listing them.
    public static func lookUp(_ name: String, in listing: ModelListing) throws(ModelStoreError) -> ModelStoreEntry {
        let entries = listing.entries
        let folded = name.lowercased()
        var candidates = entries.filter { $0.names.contains(name) }
        if candidates.isEmpty {
            candidates = entries.filter { $0.names.contains { $0.lowercased() == folded } }
        }
        if candidates.isEmpty && tag(of: name) == nil {
            candidates = entries.filter { $0.names.contains { untagged($0).lowercased() == folded } }
            if candidates.count > 1 {
                let latest = candidates.filter { $0.source == .ollama && tag(of: $0.name) == "latest" }
                if latest.count == 1 { candidates = latest }
            }
        }
        switch candidates.count {
        case 0: throw ModelStoreError(name: name, kind: .unknown(locations: listing.locations, listed: entries.count))
        case 1: return candidates[0]
        default: throw ModelStoreError(name: name, kind: .ambiguous(candidates: candidates))
        }
    }

    /// The `:tag` of `name`'s last component (`4b` of `gemma3:4b`), or nil.
    static func tag(of name: String) -> String? {
        let last = name.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        guard let colon = last.lastIndex(of: ":") else { return nil }
        return String(last[last.index(after: colon)...])
    }

    /// `name` without its `:tag`.
    static func untagged(_ name: String) -> String {
        guard let tag = tag(of: name) else { return name }
        return String(name.dropLast(tag.count + 1))
    }
}
