import Foundation
import GGUF
import Testing
@testable import Inference

/// `Fixtures/quants/plans.json` from `Scripts/make_quantizer_fixtures.py`: for tiny random
/// llama/qwen2 models (2 to 40 layers, row lengths that do and do not fit 256-blocks, tied and
/// separate output weights), the type llama.cpp's `llama_model_quantize` gave every tensor
/// under every target.
struct PlanFixture: Sendable {
    struct Case: Sendable, CustomTestStringConvertible {
        var model: String
        var architecture: String
        var blockCount: Int
        var tensors: [QuantizationPlan.Tensor]
        var types: [String: [String]]
        var testDescription: String { model }
    }

    static let cases: [Case] = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?
                .appendingPathComponent("quants/plans.json"),
              let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cases = root["cases"] as? [[String: Any]] else { return [] }
        return cases.compactMap { item -> Case? in
            guard let model = item["model"] as? String, let architecture = item["architecture"] as? String,
                  let blockCount = item["block_count"] as? Int, let rows = item["tensors"] as? [[Any]],
                  let types = item["types"] as? [String: [String]] else { return nil }
            let tensors = rows.compactMap { row -> QuantizationPlan.Tensor? in
                guard row.count == 3, let name = row[0] as? String, let dimensions = row[1] as? [Int],
                      let typeName = row[2] as? String, let type = GGMLType(name: typeName) else { return nil }
                return QuantizationPlan.Tensor(name: name, dimensions: dimensions, type: type)
            }
            return Case(model: model, architecture: architecture, blockCount: blockCount, tensors: tensors, types: types)
        }
    }()
}

@Suite struct QuantizationPlanTests {
    @Test("the fixture was read") func fixtureLoaded() {
        #expect(PlanFixture.cases.count >= 5)
        #expect(PlanFixture.cases.allSatisfy { $0.types.count == QuantizationTarget.allCases.count })
    }

    @Test("every tensor gets llama.cpp's type", arguments: PlanFixture.cases)
    func matchesLlamaCpp(_ fixture: PlanFixture.Case) throws {
        for target in QuantizationTarget.allCases {
            let expected = try #require(fixture.types[target.name], "no \(target.name) plan")
            try #require(expected.count == fixture.tensors.count)
            let actual = QuantizationPlan.types(for: fixture.tensors, target: target,
                                                architecture: fixture.architecture, layerCount: fixture.blockCount)
            let wrong = fixture.tensors.indices.filter { actual[$0].name != expected[$0] }.map {
                "\(fixture.tensors[$0].name): got \(actual[$0].name), want \(expected[$0])"
            }
            #expect(wrong.isEmpty, "\(target.name): \(wrong.count) wrong: \(wrong.prefix(6).joined(separator: "; "))")
        }
    }

    @Test func useMoreBitsPicksEdgesAndEveryThird() {
        let picked = (0..<16).filter { QuantizationPlan.useMoreBits($0, 16) }
        #expect(picked == [0, 1, 4, 7, 10, 13, 14, 15])
    }

    @Test func visionAndCrossAttentionRules() {
        let tensors = [
            QuantizationPlan.Tensor(name: "token_embd.weight", dimensions: [256, 64], type: .f16),
            QuantizationPlan.Tensor(name: "output.weight", dimensions: [256, 64], type: .f16),
            QuantizationPlan.Tensor(name: "v.blk.0.attn_v.weight", dimensions: [256, 256], type: .f16),
            QuantizationPlan.Tensor(name: "mm.0.weight", dimensions: [256, 256], type: .f16),
            QuantizationPlan.Tensor(name: "v.patch_embd.weight", dimensions: [14, 14, 3, 256], type: .f16),
        ] + (0..<8).flatMap { layer -> [QuantizationPlan.Tensor] in
            let prefix = layer == 3 ? "blk.\(layer).cross_attn_" : "blk.\(layer).attn_"
            return (layer == 3 ? ["q_proj", "k_proj", "v_proj", "o_proj"] : ["q", "k", "v", "output"]).map {
                QuantizationPlan.Tensor(name: prefix + $0 + ".weight", dimensions: [256, 256], type: .f16)
            } + (layer == 3 ? [QuantizationPlan.Tensor(name: "blk.3.cross_attn_q_norm.weight", dimensions: [64], type: .f32),
                               QuantizationPlan.Tensor(name: "blk.3.cross_attn_attn_gate", dimensions: [1], type: .f32)] : []) + [QuantizationPlan.Tensor(name: "blk.\(layer).ffn_down.weight", dimensions: [512, 256], type: .f16),
                 QuantizationPlan.Tensor(name: "blk.\(layer).attn_norm.weight", dimensions: [256], type: .f32)]
        }
        let types = QuantizationPlan.types(for: tensors, target: .q4_K_M, architecture: "mllama", layerCount: 8)
        let byName = Dictionary(uniqueKeysWithValues: zip(tensors.map(\.name), types))
        #expect(byName["v.blk.0.attn_v.weight"] == .f16 && byName["mm.0.weight"] == .f16)
        #expect(byName["v.patch_embd.weight"] == .f16)
        #expect(byName["output.weight"] == .q6_K && byName["token_embd.weight"] == .q4_K)
        // 8 attention-V weights: layers 0 and 7 (edges) and 3 (every third) get Q6_K.
        #expect(byName["blk.3.cross_attn_v_proj.weight"] == .q6_K)
        #expect(byName["blk.2.attn_v.weight"] == .q4_K && byName["blk.0.attn_v.weight"] == .q6_K)
        #expect(byName["blk.3.cross_attn_k_proj.weight"] == .q4_K && byName["blk.3.cross_attn_o_proj.weight"] == .q4_K)
        #expect(byName["blk.3.attn_norm.weight"] == .f32 && byName["blk.3.cross_attn_q_norm.weight"] == .f32)
        #expect(byName["blk.3.cross_attn_attn_gate"] == .f32)
        for (name, category) in [("blk.3.cross_attn_o_proj.weight", QuantizationPlan.Category.attentionOutput),
                                 ("blk.3.cross_attn_o.weight", .attentionOutput),
                                 ("blk.3.cross_attn_q_proj.weight", .attentionQ), ("blk.3.cross_attn_q.weight", .attentionQ),
                                 ("blk.3.cross_attn_k_proj.weight", .attentionK), ("blk.3.cross_attn_k.weight", .attentionK),
                                 ("blk.3.cross_attn_v_proj.weight", .attentionV), ("blk.3.cross_attn_v.weight", .attentionV)] {
            #expect(QuantizationPlan.category(of: name) == category, "\(name)")
        }
    }

    @Test func targetNamesAndFileTypes() {
        #expect(QuantizationTarget(name: "q4_k_m") == .q4_K_M)
        #expect(QuantizationTarget(name: "Q4_K") == nil)
        #expect(QuantizationTarget.allCases.map(\.fileType) == [7, 2, 15, 17, 18, 1, 32, 0])
        #expect(QuantizationPlan.layerNumber("blk.12.attn_v.weight") == 12 && QuantizationPlan.layerNumber("output.weight") == -1)
    }
}
