import Foundation
import GGUF
import Testing
@testable import Inference

/// Ponder's image preprocessing, vision encoders, projectors and multimodal prompts against the
/// references of `Scripts/make_vision_fixtures.py` (`Fixtures/vision/README.md`): llama.cpp's
/// mtmd for preprocessing and prompt layout; HF transformers (the trained semantics) for the
/// embeddings, since llama.cpp's `mlp` graph departs from them.
struct VisionReferences: Decodable {
    struct Image: Decodable { let name, png, rgb: String; let width, height: Int }
    struct PreprocessCase: Decodable { let image: String; let n_tiles: Int; let u8_rgb: String; let f32_planar: String? }
    struct Preprocess: Decodable { let cases: [String: PreprocessCase] }
    struct Case: Decodable {
        let image: String
        let n_image_tokens: Int
        let n_embd: Int
        let mtmd_embeddings: String
        let trained_embeddings: String
        let trained_vs_mtmd: Double
    }
    struct Chunk: Decodable { let type: String; let tokens: [Int32]?; let n_tokens: Int? }
    struct Prompt: Decodable { let prompt: String; let text: String; let image: String; let chunks: [Chunk] }
    struct Projector: Decodable {
        let name, file, projector_type, weight_type, text_model: String
        let legacy_ffn_swap: Bool
        let cases: [Case]
        let prompts: [Prompt]
    }
    struct EndToEnd: Decodable {
        let projector, image, prompt, logits_trained, logits_mtmd: String
        let logits_shape: [Int]
    }
    let images: [Image]
    let preprocess: [String: Preprocess]
    let projectors: [Projector]
    let end_to_end: [EndToEnd]

    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("vision")
    static let shared: VisionReferences = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("references.json"))
        return try! JSONDecoder().decode(VisionReferences.self, from: data)
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: directory.appendingPathComponent(name))) }
    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
    static func image(_ name: String) throws -> RGBImage {
        let image = shared.images.first { $0.name == name }!
        return try ImageDecoder.decode(contentsOf: path(image.png))
    }
    static func projector(_ name: String) -> Projector { shared.projectors.first { $0.name == name }! }
}

/// max|a − b| / max|b|.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var worst: Float = 0, peak: Float = 0
    for (x, y) in zip(a, b) {
        worst = max(worst, abs(x - y))
        peak = max(peak, abs(y))
    }
    return Double(worst / max(peak, .leastNormalMagnitude))
}

@Suite("Vision against llama.cpp and HF")
struct VisionParityTests {
    typealias R = VisionReferences

    static let preprocessCases: [String] = R.shared.preprocess.keys.sorted().flatMap { type in
        R.shared.preprocess[type]!.cases.keys.sorted().map { "\(type)/\($0)" }
    }
    static let embeddingCases: [String] = R.shared.projectors.flatMap { p in p.cases.map { "\(p.name)/\($0.image)" } }
    static let promptCases: [String] = R.shared.projectors.flatMap { p in p.prompts.map { "\(p.name)/\($0.prompt)/\($0.image)" } }

    static func encoder(_ name: String) throws -> VisionTransformer {
        try loadVisionEncoder(path: R.path(R.projector(name).file), threads: 2)
    }

    @Test("the PNG fixtures decode to the raw pixels both sides were given")
    func decodedImagesMatchRaw() throws {
        for image in R.shared.images {
            let decoded = try R.image(image.name)
            #expect(decoded.width == image.width && decoded.height == image.height)
            #expect(decoded.pixels == (try R.bytes(image.rgb)), "\(image.png)")
        }
    }

    @Test("preprocessing gives llama.cpp's tiles byte for byte, normalised within 1e-6", arguments: preprocessCases)
    func preprocessing(label: String) throws {
        let parts = label.split(separator: "/").map(String.init)
        let reference = R.shared.preprocess[parts[0]]!.cases[parts[1]]!
        let projector = R.shared.projectors.first { $0.projector_type == parts[0] }!
        let configuration = try VisionConfiguration(file: GGUFFile(path: R.path(projector.file)))
        let preprocessor = ImagePreprocessor(configuration: configuration)
        let image = try R.image(reference.image)
        let tiles = preprocessor.resizedTiles(of: image)
        #expect(tiles.count == reference.n_tiles)
        let bytes = tiles.flatMap(\.image.pixels)
        let expected = try R.bytes(reference.u8_rgb)
        #expect(bytes.count == expected.count)
        let differing = zip(bytes, expected).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) of \(expected.count) bytes differ")
        if let f32 = reference.f32_planar {
            let planar = tiles.flatMap { preprocessor.normalize($0.image) }
            #expect(relativeError(planar, try R.floats(f32)) <= 1e-6)
        }
    }

    @Test("embeddings match the trained model (HF transformers)", arguments: embeddingCases)
    func embeddings(label: String) throws {
        let parts = label.split(separator: "/").map(String.init)
        let projector = R.projector(parts[0])
        let reference = projector.cases.first { $0.image == parts[1] }!
        let encoder = try Self.encoder(projector.name)
        let embeddings = encoder.encode(try R.image(reference.image))
        #expect(embeddings.width == reference.n_embd)
        #expect(embeddings.tokenCount == reference.n_image_tokens)
        let values = embeddings.flattened
        let trained = try R.floats(reference.trained_embeddings)
        // F16 weights: Ponder rounds the activations of F16 matmuls to f16, as ggml does,
        // which the exact-math reference does not.
        let tolerance = projector.weight_type == "F16" ? 3e-3 : 1e-4
        let error = relativeError(values, trained)
        #expect(error <= tolerance, "max|Δ|/max|ref| = \(error) against HF")
        if projector.projector_type == "idefics3" {
            // Here llama.cpp follows the trained graph too, up to its f16 rounding.
            let mtmd = relativeError(values, try R.floats(reference.mtmd_embeddings))
            #expect(mtmd <= 3e-3, "max|Δ|/max|ref| = \(mtmd) against llama.cpp")
        }
    }

    @Test("the legacy file with swapped ffn_up/ffn_down encodes like the modern one")
    func legacySwap() throws {
        let image = try R.image("landscape80x45")
        let modern = try Self.encoder("clip-mlp").encode(image).flattened
        let legacy = try Self.encoder("clip-mlp-legacy").encode(image).flattened
        #expect(R.projector("clip-mlp-legacy").legacy_ffn_swap)
        #expect(modern == legacy)
    }

    @Test("prompt inputs have llama.cpp's chunk layout", arguments: promptCases)
    func promptLayout(label: String) throws {
        let parts = label.split(separator: "/").map(String.init)
        let projector = R.projector(parts[0])
        let reference = projector.prompts.first { $0.prompt == parts[1] && $0.image == parts[2] }!
        let encoder = try Self.encoder(projector.name)
        let tokenizer = try VocabularyTokenizer(file: GGUFFile(path: R.path(projector.text_model)))
        let embeddings = encoder.encode(try R.image(reference.image))
        let prompt = try MultimodalPrompt(tokenizer: tokenizer, projectorType: encoder.configuration.projectorType)
            .inputs(for: reference.text, images: [embeddings])
        // Runs of tokens and of embedding rows, as chunks.
        var chunks: [(String, [Int32], Int)] = []
        for input in prompt.inputs {
            switch input {
            case .token(let token):
                if chunks.last?.0 == "text" { chunks[chunks.count - 1].1.append(token) } else { chunks.append(("text", [token], 0)) }
            case .embedding, .image:
                // Consecutive tiles are separate chunks in mtmd, but always with text between.
                if chunks.last?.0 == "image" { chunks[chunks.count - 1].2 += 1 } else { chunks.append(("image", [], 1)) }
            }
        }
        #expect(chunks.count == reference.chunks.count)
        for (mine, theirs) in zip(chunks, reference.chunks) {
            #expect(mine.0 == theirs.type)
            if theirs.type == "text" { #expect(mine.1 == theirs.tokens!) } else { #expect(mine.2 == theirs.n_tokens!) }
        }
    }

    @Test("end to end: the text model's logits after an image prompt match the trained reference")
    func endToEnd() throws {
        for e2e in R.shared.end_to_end {
            let projector = R.projector(e2e.projector)
            let reference = projector.prompts.first { $0.prompt == e2e.prompt && $0.image == e2e.image }!
            let encoder = try Self.encoder(projector.name)
            let file = try GGUFFile(path: R.path(projector.text_model))
            let tokenizer = try VocabularyTokenizer(file: file)
            let model = try loadTextModel(file: file, options: TextModelOptions(contextLength: 256, threadCount: 2))
            let prompt = try MultimodalPrompt(tokenizer: tokenizer, projectorType: encoder.configuration.projectorType)
                .inputs(for: reference.text, images: [encoder.encode(try R.image(e2e.image))])
            #expect(prompt.count == e2e.logits_shape[0])
            let sequence = try model.makeSequence()
            let batch = Batch(items: prompt.inputs.enumerated().map { position, input in
                Batch.Item(sequence: sequence, position: position, input: input, wantsLogits: true)
            })
            let logits = try model.forward(batch)
            let error = relativeError(logits.values, try R.floats(e2e.logits_trained))
            #expect(error <= 1e-3, "\(e2e.projector) \(e2e.image) \(e2e.prompt): max|Δ|/max|ref| = \(error)")
        }
    }

    @Test("bad projector files give one sentence naming the file")
    func badFiles() throws {
        // A text model is not a projector.
        do {
            _ = try loadVisionEncoder(path: R.path("text-llama.gguf"))
            Issue.record("a text model loaded as a projector")
        } catch {
            #expect(error.description.contains("text-llama.gguf") && error.description.contains("not a vision projector"))
        }
        // A truncated projector.
        let bytes = try R.bytes("siglip-idefics3.gguf")
        let truncated = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-truncated-mmproj.gguf")
        try Data(bytes.prefix(bytes.count / 2)).write(to: truncated)
        defer { try? FileManager.default.removeItem(at: truncated) }
        do {
            _ = try loadVisionEncoder(path: truncated.path)
            Issue.record("a truncated projector loaded")
        } catch {
            #expect(error.description.contains("ponder-truncated-mmproj.gguf"))
        }
        // More images than markers.
        let tokenizer = try VocabularyTokenizer(file: GGUFFile(path: R.path("text-llama.gguf")))
        let empty = ImageEmbeddings(width: 64, tiles: [], rows: 1, columns: 1)
        #expect(throws: MultimodalPrompt.Failure.imageCountMismatch(markers: 0, images: 1)) {
            try MultimodalPrompt(tokenizer: tokenizer, projectorType: .mlp).inputs(for: "no marker", images: [empty])
        }
    }
}
