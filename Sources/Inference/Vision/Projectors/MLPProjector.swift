/// LLaVA-1.5's projector: `mm.2 · gelu(mm.0 · x + b0) + b2`, one embedding per patch, with
/// the exact (erf) GELU the model was trained with (llama.cpp uses the tanh approximation).
struct MLPProjector: VisionProjector {
    let first: WeightMatrix
    let firstBias: [Float]
    let second: WeightMatrix
    let secondBias: [Float]

    init(loader: TensorLoader<VisionError>, inputWidth: Int) throws(VisionError) {
        guard let info = loader.file.tensor(named: "mm.0.weight"), info.dimensions.count == 2 else {
            throw VisionError(file: loader.file.path, kind: .missingTensor("mm.0.weight"))
        }
        let hidden = info.dimensions[1]
        first = try loader.matrix("mm.0.weight", rows: hidden, columns: inputWidth)
        firstBias = try loader.vector("mm.0.bias", length: hidden)
        guard let out = loader.file.tensor(named: "mm.2.weight"), out.dimensions.count == 2 else {
            throw VisionError(file: loader.file.path, kind: .missingTensor("mm.2.weight"))
        }
        second = try loader.matrix("mm.2.weight", rows: out.dimensions[1], columns: hidden)
        secondBias = try loader.vector("mm.2.bias", length: out.dimensions[1])
    }

    var outputWidth: Int { second.rows }
    var appliesPostNorm: Bool { false }
    func tokenCount(patchesPerSide: Int) -> Int { patchesPerSide * patchesPerSide }

    func project(_ features: [Float], patchesPerSide: Int, width: Int, pool: ThreadPool) -> [Float] {
        let rows = patchesPerSide * patchesPerSide
        var hidden = linear(first, bias: firstBias, features, rows: rows, pool: pool)
        hidden.withUnsafeMutableBufferPointer { VisionKernels.geluErf($0.baseAddress!, count: $0.count) }
        return linear(second, bias: secondBias, hidden, rows: rows, pool: pool)
    }
}
