/// The error of looking a model up by name. `description` is one sentence naming the name and,
/// for an unknown one, every folder looked in; for an ambiguous one, every candidate.
public struct ModelStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No file and no listed model has the name; `locations` were looked in.
        case unknown(locations: [ModelStoreLocation], listed: Int)
        /// Several listed models answer to the name.
        case ambiguous(candidates: [ModelStoreEntry])
    }

    /// The name as given.
    public var name: String
    public var kind: Kind

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// Whether no model answers to the name (rather than several).
    public var isUnknown: Bool {
        if case .unknown = kind { return true }
        return false
    }

    public var description: String {
        switch kind {
        case .unknown(let locations, let listed):
            let found = listed == 1 ? "the 1 model" : "the \(listed) models"
            return "'\(name)' is neither a file nor one of \(found) found in "
                + ModelStoreLocation.describe(locations) + "; run 'ponder models' to list them."
        case .ambiguous(let candidates):
            let names = candidates.map(\.name)
            if Set(names).count == names.count {
                return "'\(name)' matches \(candidates.count) models: \(names.joined(separator: ", ")); give one of these names."
            }
            let list = candidates.map { "\($0.name) in \($0.source.title) (\($0.model))" }
            return "'\(name)' matches \(candidates.count) models: \(list.joined(separator: ", ")); pass the file path instead."
        }
    }
}

extension ModelStoreLocation {
    /// The locations by source, in one phrase: `Ollama's store (/a, missing), the Hugging
    /// Face cache (/b) and the model folders (/c)`; a missing folder is marked so.
    public static func describe(_ locations: [ModelStoreLocation]) -> String {
        let places = ModelSource.allCases.compactMap { source -> String? in
            let folders = locations.filter { $0.source == source }
            if source == .folder && folders.isEmpty {
                return "\(source.title) (none: $PONDER_MODELS and --models-dir are unset)"
            }
            guard !folders.isEmpty else { return nil }
            let list = folders.map { $0.exists ? $0.path : "\($0.path), missing" }.joined(separator: "; ")
            return "\(source.title) (\(list))"
        }
        guard places.count > 1 else { return places.first ?? "" }
        return places.dropLast().joined(separator: ", ") + " and " + places[places.count - 1]
    }
}
