import GGUF

/// The error of text-model loading, the KV cache and forward passes. `description` is one
/// sentence naming the file, tensor, key or sequence at fault.
public struct TextModelError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        // Loading.
        case file(GGUFError)
        case unsupportedArchitecture(String?)
        case missingKey(String)
        case invalidValue(key: String, value: String, reason: String)
        case missingTensor(String)
        case wrongShape(tensor: String, expected: [Int], found: [Int])
        case unsupportedTensorType(tensor: String, type: String)
        case insufficientMemory(neededBytes: Int, availableBytes: Int)
        // Sequences and the cache.
        case unknownSequence(SequenceID)
        case contextFull(SequenceID, contextLength: Int)
        case cacheFull(neededBlocks: Int, freeBlocks: Int, capacity: Int)
        case invalidTruncation(SequenceID, length: Int, sequenceLength: Int)
        // Batches.
        case positionMismatch(SequenceID, expected: Int, found: Int)
        case tokenOutOfRange(token: Int32, vocabularySize: Int)
        case embeddingLengthMismatch(expected: Int, found: Int)
        /// An image input the model cannot take (wrong kind for the family, bad index, width).
        case imageInput(reason: String)
    }

    /// The model file, when the error concerns one.
    public var file: String?
    public var kind: Kind

    public init(file: String? = nil, kind: Kind) {
        self.file = file
        self.kind = kind
    }

    public var description: String {
        if case .file(let error) = kind { return error.description }
        return file.map { "\($0): \(message)" } ?? message
    }

    public var message: String {
        switch kind {
        case .file(let error):
            return error.message
        case .unsupportedArchitecture(let name):
            guard let name else { return "metadata key 'general.architecture' is missing, so the model type is unknown" }
            return "architecture '\(name)' is not supported as a text model (supported: llama, qwen2)"
        case .missingKey(let key):
            return "metadata key '\(key)' is missing"
        case .invalidValue(let key, let value, let reason):
            return "metadata key '\(key)' has value \(value), but \(reason)"
        case .missingTensor(let name):
            return "tensor '\(name)' is missing"
        case .wrongShape(let tensor, let expected, let found):
            return "tensor '\(tensor)' has shape \(found), expected \(expected)"
        case .unsupportedTensorType(let tensor, let type):
            return "tensor '\(tensor)' has type \(type), which cannot be dequantized"
        case .insufficientMemory(let needed, let available):
            return "the model needs about \(gibibytes(needed)) (weights, any vision projector and the KV cache) but the machine has \(gibibytes(available)) of memory; use a smaller context length or a smaller model"
        case .unknownSequence(let sequence):
            return "\(sequence) does not exist (it was never made or was released)"
        case .contextFull(let sequence, let contextLength):
            return "\(sequence) is full: it reached the context length of \(contextLength) positions"
        case .cacheFull(let needed, let free, let capacity):
            return "the KV cache is full: the batch needs \(needed) more blocks but \(free) of \(capacity) are free; release sequences or load with a larger cache"
        case .invalidTruncation(let sequence, let length, let sequenceLength):
            return "cannot truncate \(sequence) to \(length) positions: it holds \(sequenceLength)"
        case .positionMismatch(let sequence, let expected, let found):
            return "a batch item of \(sequence) is at position \(found), but the sequence continues at position \(expected)"
        case .tokenOutOfRange(let token, let vocabularySize):
            return "token id \(token) is outside the vocabulary of \(vocabularySize) tokens"
        case .imageInput(let reason):
            return "the image input cannot be used: \(reason)"
        case .embeddingLengthMismatch(let expected, let found):
            return "an input embedding row has \(found) values, but the model's embedding length is \(expected)"
        }
    }
}

private func gibibytes(_ bytes: Int) -> String {
    let value = Double(bytes) / 1_073_741_824
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) GiB"
}
