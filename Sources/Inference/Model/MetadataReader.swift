import GGUF

/// Reads typed metadata of a GGUF file under a key prefix (`llama.`, `mllama.vision.`, …) and
/// reports every problem through `fail`, so each area (text model, vision encoder) gets its own
/// error type naming the file and the key. Configurations of new families read their keys with
/// it instead of writing their own accessors.
struct MetadataReader<Failure: Error> {
    enum Problem {
        /// A GGUF-level failure (wrong value type, truncated file).
        case file(GGUFError)
        case missing(key: String)
        case invalid(key: String, value: String, reason: String)
    }

    let file: GGUFFile
    /// Prepended with a dot to every key (empty: keys are used as given).
    let prefix: String
    let fail: (Problem) -> Failure

    func key(_ suffix: String) -> String { prefix.isEmpty ? suffix : "\(prefix).\(suffix)" }

    func invalid(_ suffix: String, _ value: some CustomStringConvertible, _ reason: String) -> Failure {
        fail(.invalid(key: key(suffix), value: "\(value)", reason: reason))
    }

    func missing(_ suffix: String) -> Failure { fail(.missing(key: key(suffix))) }

    private func wrap<T>(_ body: () throws(GGUFError) -> T) throws(Failure) -> T {
        do {
            return try body()
        } catch {
            throw fail(.file(error))
        }
    }

    func contains(_ suffix: String) -> Bool { file.value(forKey: key(suffix)) != nil }

    func optionalInt(_ suffix: String) throws(Failure) -> Int? {
        try wrap { () throws(GGUFError) in try file.optionalInt(key(suffix)) }
    }

    func optionalFloat(_ suffix: String) throws(Failure) -> Float? {
        try wrap { () throws(GGUFError) in try file.optionalFloat(key(suffix)) }
    }

    func optionalString(_ suffix: String) throws(Failure) -> String? {
        try wrap { () throws(GGUFError) in try file.optionalString(key(suffix)) }
    }

    func optionalBool(_ suffix: String) throws(Failure) -> Bool? {
        try wrap { () throws(GGUFError) in try file.optionalBool(key(suffix)) }
    }

    func optionalIntArray(_ suffix: String) throws(Failure) -> [Int]? {
        try wrap { () throws(GGUFError) in try file.optionalIntArray(key(suffix)) }
    }

    func optionalFloatArray(_ suffix: String) throws(Failure) -> [Float]? {
        try wrap { () throws(GGUFError) in try file.optionalFloatArray(key(suffix)) }
    }

    func requiredFloat(_ suffix: String) throws(Failure) -> Float {
        guard let value = try optionalFloat(suffix) else { throw missing(suffix) }
        return value
    }

    /// A positive integer; `default` when absent (absent without a default is an error).
    func positive(_ suffix: String, default fallback: Int? = nil) throws(Failure) -> Int {
        guard let value = try optionalInt(suffix) ?? fallback else { throw missing(suffix) }
        guard value > 0, value <= 1 << 40 else { throw invalid(suffix, value, "it must be positive") }
        return value
    }

    /// A list of indices, each in `0..<limit`, sorted and without repeats.
    func indices(_ suffix: String, below limit: Int) throws(Failure) -> [Int]? {
        guard let values = try optionalIntArray(suffix) else { return nil }
        for value in values where value < 0 || value >= limit {
            throw invalid(suffix, value, "each index must be in 0..<\(limit)")
        }
        guard Set(values).count == values.count else { throw invalid(suffix, values, "an index is repeated") }
        return values.sorted()
    }
}

extension MetadataReader where Failure == TextModelError {
    /// Keys of a text model: problems become `TextModelError`s naming the file.
    init(textModel file: GGUFFile, prefix: String) {
        self.init(file: file, prefix: prefix) { problem in
            switch problem {
            case .file(let error): TextModelError(kind: .file(error))
            case .missing(let key): TextModelError(file: file.path, kind: .missingKey(key))
            case .invalid(let key, let value, let reason):
                TextModelError(file: file.path, kind: .invalidValue(key: key, value: value, reason: reason))
            }
        }
    }
}
