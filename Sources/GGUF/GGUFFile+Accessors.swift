/// Typed metadata accessors. Each throws a `GGUFError` that names the key and, on a type
/// mismatch, the expected and the found type. The `optional…` forms return nil when the key is
/// absent but still throw when it is present with the wrong type.
extension GGUFFile {
    private func mismatch(_ key: String, _ expected: String, _ found: GGUFValue) -> GGUFError {
        GGUFError(file: path, kind: .typeMismatch(key: key, expected: expected, found: found.typeDescription))
    }

    private func require(_ key: String) throws(GGUFError) -> GGUFValue {
        guard let value = value(forKey: key) else { throw GGUFError(file: path, kind: .missingKey(key)) }
        return value
    }

    public func optionalString(_ key: String) throws(GGUFError) -> String? {
        guard let value = value(forKey: key) else { return nil }
        guard case .string(let text) = value else { throw mismatch(key, "string", value) }
        return text
    }

    public func string(_ key: String) throws(GGUFError) -> String {
        let value = try require(key)
        guard case .string(let text) = value else { throw mismatch(key, "string", value) }
        return text
    }

    /// Any integer type whose value fits in `Int`.
    public func optionalInt(_ key: String) throws(GGUFError) -> Int? {
        guard let value = value(forKey: key) else { return nil }
        guard let integer = value.integerValue else {
            guard value.type == .uint64 || value.type == .int64 else { throw mismatch(key, "an integer", value) }
            throw GGUFError(file: path, kind: .valueOutOfRange(key: key, value: "\(value)"))
        }
        return integer
    }

    public func int(_ key: String) throws(GGUFError) -> Int {
        guard let value = try optionalInt(key) else { throw GGUFError(file: path, kind: .missingKey(key)) }
        return value
    }

    /// f32, f64, or any integer type.
    public func optionalFloat(_ key: String) throws(GGUFError) -> Float? {
        guard let value = value(forKey: key) else { return nil }
        guard let number = value.doubleValue else { throw mismatch(key, "a number", value) }
        return Float(number)
    }

    public func float(_ key: String) throws(GGUFError) -> Float {
        guard let value = try optionalFloat(key) else { throw GGUFError(file: path, kind: .missingKey(key)) }
        return value
    }

    public func optionalBool(_ key: String) throws(GGUFError) -> Bool? {
        guard let value = value(forKey: key) else { return nil }
        guard case .bool(let flag) = value else { throw mismatch(key, "bool", value) }
        return flag
    }

    public func bool(_ key: String) throws(GGUFError) -> Bool {
        guard let value = try optionalBool(key) else { throw GGUFError(file: path, kind: .missingKey(key)) }
        return value
    }

    public func optionalArray(_ key: String) throws(GGUFError) -> GGUFArray? {
        guard let value = value(forKey: key) else { return nil }
        guard case .array(let array) = value else { throw mismatch(key, "array", value) }
        return array
    }

    public func optionalStringArray(_ key: String) throws(GGUFError) -> [String]? {
        guard let value = value(forKey: key) else { return nil }
        guard case .array(.string(let strings)) = value else { throw mismatch(key, "array of string", value) }
        return strings
    }

    public func stringArray(_ key: String) throws(GGUFError) -> [String] {
        guard let value = try optionalStringArray(key) else { throw GGUFError(file: path, kind: .missingKey(key)) }
        return value
    }

    /// An array of f32, f64 or integers, as `Float`.
    public func optionalFloatArray(_ key: String) throws(GGUFError) -> [Float]? {
        guard let value = value(forKey: key) else { return nil }
        guard case .array(let array) = value, let floats = array.floats else {
            throw mismatch(key, "array of numbers", value)
        }
        return floats
    }

    public func floatArray(_ key: String) throws(GGUFError) -> [Float] {
        guard let value = try optionalFloatArray(key) else { throw GGUFError(file: path, kind: .missingKey(key)) }
        return value
    }

    /// An array of any integer type, as `Int`.
    public func optionalIntArray(_ key: String) throws(GGUFError) -> [Int]? {
        guard let value = value(forKey: key) else { return nil }
        guard case .array(let array) = value, let integers = array.integers else {
            throw mismatch(key, "array of integers", value)
        }
        return integers
    }

    public func intArray(_ key: String) throws(GGUFError) -> [Int] {
        guard let value = try optionalIntArray(key) else { throw GGUFError(file: path, kind: .missingKey(key)) }
        return value
    }

    /// `general.architecture`, e.g. `llama`, `qwen2`, `clip`.
    public var architecture: String? { try? optionalString("general.architecture") }
}
