/// SmolVLM's (Idefics3) projector: a pixel shuffle by `scaleFactor` s, so each output token
/// concatenates the features of an s×s block of patches (block rows outer, columns inner),
/// then one linear layer without bias, `mm.model.fc.weight`.
struct Idefics3Projector: VisionProjector {
    let fc: WeightMatrix
    let scaleFactor: Int

    init(loader: TensorLoader<VisionError>, inputWidth: Int, scaleFactor: Int) throws(VisionError) {
        guard let info = loader.file.tensor(named: "mm.model.fc.weight"), info.dimensions.count == 2 else {
            throw VisionError(file: loader.file.path, kind: .missingTensor("mm.model.fc.weight"))
        }
        fc = try loader.matrix("mm.model.fc.weight", rows: info.dimensions[1], columns: inputWidth * scaleFactor * scaleFactor)
        self.scaleFactor = scaleFactor
    }

    var outputWidth: Int { fc.rows }
    var appliesPostNorm: Bool { true }
    func tokenCount(patchesPerSide: Int) -> Int { (patchesPerSide / scaleFactor) * (patchesPerSide / scaleFactor) }

    func project(_ features: [Float], patchesPerSide: Int, width: Int, pool: ThreadPool) -> [Float] {
        let s = scaleFactor, side = patchesPerSide / s
        var shuffled = [Float](repeating: 0, count: features.count)
        var o = 0
        for ty in 0..<side {
            for tx in 0..<side {
                for dy in 0..<s {
                    for dx in 0..<s {
                        let patch = (ty * s + dy) * patchesPerSide + tx * s + dx
                        for e in 0..<width { shuffled[o + e] = features[patch * width + e] }
                        o += width
                    }
                }
            }
        }
        return linear(fc, bias: nil, shuffled, rows: side * side, pool: pool)
    }
}
