import Foundation
import Testing
@testable import Inference

/// Ponder's text models against llama.cpp on random-weight fixtures
/// (`Scripts/make_model_fixtures.py`; all references come from llama.cpp).
///
/// - F32/F16: logits at every prompt position within `logit_tolerance` (1e-3) of llama.cpp's,
///   relative to the largest reference logit; the same 32-token greedy continuation.
/// - Quantized: llama.cpp's logits of the dequantized-f32 twin are the truth. Ponder's
///   relative RMS against them is at most 1.1× llama.cpp's own, and its argmax agrees with
///   the twin's on at least llama.cpp's fraction of positions less one point. Both the prompt
///   as one batch (prefill path) and one token per pass (decode path) are held to this.
///
/// Every measurement prints one `model-parity: {json}` line; `Scripts/report_model_parity.py`
/// turns them into the README table.
@Suite("Text model parity with llama.cpp")
struct ModelParityTests {
    static let references = ModelParityReferences.shared

    @Test("F32/F16 prompt logits match llama.cpp", arguments: ModelParityReferences.floatNames)
    func floatLogits(name: String) throws {
        let fixture = ModelParityReferences.fixture(named: name)
        let expected = try ModelParityReferences.logits(fixture.logits, vocabularySize: fixture.n_vocab)
        let model = try ModelParityReferences.model(fixture)
        #expect(model.vocabularySize == fixture.n_vocab)

        let actual = try model.prefillLogits(Self.references.prompt)
        try #require(actual.count == expected.count, "\(name): \(actual.count) logits rows, expected \(expected.count)")
        let error = ParityMeasure.maxRelative(actual, expected)
        let agreement = ParityMeasure.argmaxAgreement(actual, expected)
        var values = ["max_relative": error, "argmax_agreement": agreement, "bound": Self.references.logit_tolerance]
        if let exactFile = fixture.f32_weights_logits {
            // Not bounded: where Ponder stands between llama.cpp and exact f32 arithmetic.
            let exact = try ModelParityReferences.logits(exactFile, vocabularySize: fixture.n_vocab)
            values["max_relative_vs_f32_weights"] = ParityMeasure.maxRelative(actual, exact)
            values["llama_cpp_max_relative_vs_f32_weights"] = ParityMeasure.maxRelative(expected, exact)
        }
        report(fixture, path: "prefill", values)
        #expect(error <= Self.references.logit_tolerance,
                "\(fixture.label): max|Δ|/max|ref| = \(error) over \(actual.count) positions")
    }

    @Test("F32/F16 greedy continuation matches llama.cpp", arguments: ModelParityReferences.floatNames)
    func greedyContinuation(name: String) throws {
        let fixture = ModelParityReferences.fixture(named: name)
        let expected = try #require(fixture.greedy)
        let model = try ModelParityReferences.model(fixture)
        let actual = try model.greedyContinuation(Self.references.prompt, count: expected.count)
        let firstDifference = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? (actual.count == expected.count ? nil : min(actual.count, expected.count))
        report(fixture, path: "greedy", ["matching_tokens": Double(firstDifference ?? expected.count),
                                         "tokens": Double(expected.count)])
        #expect(actual == expected, """
            \(fixture.label): greedy continuation differs from step \(firstDifference.map(String.init) ?? "?") \
            (llama.cpp margin there \(firstDifference.flatMap { fixture.greedy_margins?[$0] } ?? .nan))
            """)
    }

    @Test("quantized prompt logits (one batch) are as close to the f32 twin as llama.cpp's",
          arguments: ModelParityReferences.quantizedNames)
    func quantizedPrefill(name: String) throws {
        try checkQuantized(name: name, path: "prefill") { model, prompt in try model.prefillLogits(prompt) }
    }

    @Test("quantized logits decoded one token at a time are as close to the f32 twin as llama.cpp's",
          arguments: ModelParityReferences.quantizedNames)
    func quantizedDecode(name: String) throws {
        try checkQuantized(name: name, path: "decode") { model, prompt in try model.stepwiseLogits(prompt) }
    }

    private func checkQuantized(name: String, path: String,
                                run: (any TextModel, [Int32]) throws -> [[Float]]) throws {
        let fixture = ModelParityReferences.fixture(named: name)
        let twin = try ModelParityReferences.logits(try #require(fixture.twin_logits), vocabularySize: fixture.n_vocab)
        let llamaCpp = try #require(fixture.llama_cpp_vs_twin)
        let model = try ModelParityReferences.model(fixture)
        #expect(model.vocabularySize == fixture.n_vocab)

        let actual = try run(model, Self.references.prompt)
        try #require(actual.count == twin.count, "\(name): \(actual.count) logits rows, expected \(twin.count)")
        let rms = ParityMeasure.relativeRMS(actual, twin)
        let agreement = ParityMeasure.argmaxAgreement(actual, twin)
        let rmsBound = 1.1 * llamaCpp.relative_rms
        let agreementBound = llamaCpp.argmax_agreement - 0.01
        // Not bounded: how close Ponder is to llama.cpp's own logits of the quantized model.
        let llamaCppLogits = try ModelParityReferences.logits(fixture.logits, vocabularySize: fixture.n_vocab)
        report(fixture, path: path, [
            "max_relative_vs_llama_cpp": ParityMeasure.maxRelative(actual, llamaCppLogits),
            "relative_rms": rms, "llama_cpp_relative_rms": llamaCpp.relative_rms,
            "argmax_agreement": agreement, "llama_cpp_argmax_agreement": llamaCpp.argmax_agreement,
            "max_relative": ParityMeasure.maxRelative(actual, twin), "llama_cpp_max_relative": llamaCpp.max_relative,
        ])
        #expect(rms <= rmsBound, "\(fixture.label) \(path): relative RMS vs twin \(rms) > 1.1 × llama.cpp's \(llamaCpp.relative_rms)")
        #expect(agreement >= agreementBound,
                "\(fixture.label) \(path): argmax agrees with the twin at \(agreement), llama.cpp at \(llamaCpp.argmax_agreement)")
    }

    /// One machine-readable line per measurement, for `Scripts/report_model_parity.py`.
    private func report(_ fixture: ModelParityReferences.Fixture, path: String, _ values: [String: Double]) {
        var fields: [String: String] = ["fixture": fixture.name, "type": fixture.type, "arch": fixture.arch, "path": path]
        for (key, value) in values { fields[key] = String(value) }
        let object = fields.keys.sorted().map { key -> String in
            let value = fields[key]!
            let isNumber = values[key] != nil && values[key]!.isFinite
            return "\"\(key)\": " + (isNumber ? value : "\"\(value)\"")
        }
        print("model-parity: {" + object.joined(separator: ", ") + "}")
    }
}
