import Foundation
import GGUF
@testable import Inference

/// The llama.cpp references written by `Scripts/make_model_fixtures.py`
/// (`Fixtures/models/references.json`).
struct ModelParityReferences: Decodable {
    /// Errors of one set of logits against a reference (definitions in references.json).
    struct Statistics: Decodable {
        let relative_rms: Double
        let argmax_agreement: Double
        let max_relative: Double
    }

    struct Fixture: Decodable {
        let name: String
        let file: String
        let arch: String
        let type: String
        let n_vocab: Int
        let n_head: Int
        let n_head_kv: Int
        let gqa: Bool
        let tied: Bool
        let rope_freqs: Bool
        /// llama.cpp's logits of this model, `[prompt.count × n_vocab]`.
        let logits: String
        /// Quantized fixtures: llama.cpp's logits of the dequantized-f32 twin.
        let twin_logits: String?
        /// Quantized fixtures: llama.cpp's own error against the twin.
        let llama_cpp_vs_twin: Statistics?
        /// F16 fixtures, informational: llama.cpp's logits of the same weights stored as F32
        /// (llama.cpp's F16 matmuls round their activations to f16; these do not).
        let f32_weights_logits: String?
        /// Float fixtures: llama.cpp's greedy continuation after the prompt.
        let greedy: [Int32]?
        let greedy_margins: [Double]?

        var isQuantized: Bool { twin_logits != nil }
        var label: String {
            "\(name) (\(arch) \(type), \(gqa ? "GQA \(n_head)/\(n_head_kv)" : "MHA"), "
                + "\(tied ? "tied" : "untied")\(rope_freqs ? ", rope_freqs" : ""))"
        }
    }

    let prompt: [Int32]
    /// F32/F16 bound on max|Δ| / max|reference|.
    let logit_tolerance: Double
    let fixtures: [Fixture]

    static let directory: URL = {
        guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the test bundle has no Fixtures folder")
        }
        return fixtures.appendingPathComponent("models")
    }()

    static let shared: ModelParityReferences = {
        do {
            let data = try Data(contentsOf: directory.appendingPathComponent("references.json"))
            return try JSONDecoder().decode(ModelParityReferences.self, from: data)
        } catch {
            fatalError("cannot read the model parity references: \(error)")
        }
    }()

    static var floatNames: [String] { shared.fixtures.filter { !$0.isQuantized }.map(\.name) }
    static var quantizedNames: [String] { shared.fixtures.filter(\.isQuantized).map(\.name) }

    static func fixture(named name: String) -> Fixture {
        shared.fixtures.first { $0.name == name }!
    }

    /// A raw little-endian f32 logits file, `[rows × n_vocab]`.
    static func logits(_ file: String, vocabularySize: Int) throws -> [[Float]] {
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        let values: [Float] = data.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        precondition(values.count % vocabularySize == 0, "\(file): not a whole number of rows")
        return stride(from: 0, to: values.count, by: vocabularySize).map { Array(values[$0..<($0 + vocabularySize)]) }
    }

    /// Loads a fixture model with room for the prompt and the greedy continuation.
    static func model(_ fixture: Fixture) throws -> any TextModel {
        let file = try GGUFFile(path: directory.appendingPathComponent(fixture.file).path)
        return try loadTextModel(file: file, options: TextModelOptions(
            contextLength: shared.prompt.count + 64, threadCount: 2))
    }
}

/// Error measures, defined as in references.json.
enum ParityMeasure {
    /// max over all rows and entries of |a − ref|, divided by max |ref|.
    static func maxRelative(_ a: [[Float]], _ reference: [[Float]]) -> Double {
        var maxDelta = 0.0, maxReference = 0.0
        for (row, referenceRow) in zip(a, reference) {
            for (x, r) in zip(row, referenceRow) {
                maxDelta = max(maxDelta, abs(Double(x) - Double(r)))
                maxReference = max(maxReference, abs(Double(r)))
            }
        }
        return maxDelta / maxReference
    }

    /// sqrt(mean((a − ref)²)) / sqrt(mean(ref²)) over all rows and entries.
    static func relativeRMS(_ a: [[Float]], _ reference: [[Float]]) -> Double {
        var squaredDelta = 0.0, squaredReference = 0.0
        for (row, referenceRow) in zip(a, reference) {
            for (x, r) in zip(row, referenceRow) {
                squaredDelta += (Double(x) - Double(r)) * (Double(x) - Double(r))
                squaredReference += Double(r) * Double(r)
            }
        }
        return (squaredDelta / squaredReference).squareRoot()
    }

    /// The fraction of rows whose argmax (first index on ties) agrees.
    static func argmaxAgreement(_ a: [[Float]], _ reference: [[Float]]) -> Double {
        let agreeing = zip(a, reference).filter { argmax($0.0) == argmax($0.1) }.count
        return Double(agreeing) / Double(reference.count)
    }

    static func argmax<C: Collection>(_ row: C) -> Int where C.Element == Float, C.Index == Int {
        var best = row.startIndex
        for index in row.indices where row[index] > row[best] { best = index }
        return best - row.startIndex
    }
}

extension TextModel {
    /// The prompt as one batch, logits at every position: `[prompt.count][vocabularySize]`.
    func prefillLogits(_ prompt: [Int32]) throws -> [[Float]] {
        let sequence = try makeSequence()
        defer { release(sequence) }
        let logits = try forward(Batch(prompt: prompt, sequence: sequence, logits: .all))
        return (0..<logits.rowCount).map { Array(logits.row($0)) }
    }

    /// The prompt one token per forward pass (the decode path), logits at every position.
    func stepwiseLogits(_ prompt: [Int32]) throws -> [[Float]] {
        let sequence = try makeSequence()
        defer { release(sequence) }
        return try prompt.enumerated().map { position, token in
            let logits = try forward(Batch(prompt: [token], sequence: sequence, startPosition: position, logits: .last))
            return Array(logits.row(0))
        }
    }

    /// Greedy continuation: the prompt in one batch, then argmax fed back one token at a time.
    func greedyContinuation(_ prompt: [Int32], count: Int) throws -> [Int32] {
        let sequence = try makeSequence()
        defer { release(sequence) }
        var logits = try forward(Batch(prompt: prompt, sequence: sequence, logits: .last))
        var tokens: [Int32] = []
        while tokens.count < count {
            let next = Int32(ParityMeasure.argmax(logits.row(0)))
            tokens.append(next)
            guard tokens.count < count else { break }
            logits = try forward(Batch(prompt: [next], sequence: sequence,
                                       startPosition: prompt.count + tokens.count - 1, logits: .last))
        }
        return tokens
    }
}
