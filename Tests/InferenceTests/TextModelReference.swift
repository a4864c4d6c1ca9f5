import Foundation

/// A plain, obviously-correct forward pass of `TinyTextModel`, in Double, with no cache and no
/// batching: the whole token list goes through every layer with causal attention.
enum NaiveReference {
    /// `[tokens.count][vocabulary]` logits at every position.
    static func logits(_ model: TinyTextModel, tokens: [Int32]) -> [[Float]] {
        let scale = model.shape.architecture == "gemma3" ? Double(model.shape.embedding).squareRoot() : 1
        return logits(model, inputs: tokens.map { model.tokenEmbedding[Int($0)].map { Double($0) * scale } })
    }

    /// Logits for rows of input embeddings; `spans` are the rows of images whose rows see each
    /// other both ways (gemma3).
    static func logits(_ model: TinyTextModel, inputs: [[Double]], spans: [Range<Int>] = []) -> [[Float]] {
        let shape = model.shape, gemma = shape.architecture == "gemma3"
        let heads = shape.heads, kvHeads = shape.keyValueHeads, hd = model.headDimension
        var x = inputs
        for (index, layer) in model.layers.enumerated() {
            // gemma3: layer i slides when i % pattern < pattern − 1, with rope base 10 000.
            let window = shape.slidingWindow.flatMap {
                index % shape.slidingWindowPattern < shape.slidingWindowPattern - 1 ? $0 : nil
            }
            let base = window == nil ? Double(shape.ropeBase) : 10000
            var queries: [[Double]] = [], keys: [[Double]] = [], values: [[Double]] = []
            for (position, row) in x.enumerated() {
                let n = rmsNorm(row, layer.attentionNorm)
                var q = add(multiply(layer.wq, n), layer.bq)
                var k = add(multiply(layer.wk, n), layer.bk)
                if let norm = layer.qNorm { q = headNorm(q, norm, hd) }
                if let norm = layer.kNorm { k = headNorm(k, norm, hd) }
                for h in 0..<heads { rotate(&q, head: h, position: position, base: base, model) }
                for h in 0..<kvHeads { rotate(&k, head: h, position: position, base: base, model) }
                queries.append(q)
                keys.append(k)
                values.append(add(multiply(layer.wv, n), layer.bv))
            }
            func visible(_ t: Int, _ s: Int) -> Bool {
                if let window, s <= t - window { return false }
                return s <= t || spans.contains { $0.contains(t) && $0.contains(s) }
            }
            var attended = x
            for t in 0..<x.count {
                var attention = [Double](repeating: 0, count: heads * hd)
                let seen = x.indices.filter { visible(t, $0) }
                for h in 0..<heads {
                    let g = h / (heads / kvHeads)
                    let scores = seen.map { s in
                        (0..<hd).reduce(0.0) { $0 + queries[t][h * hd + $1] * keys[s][g * hd + $1] } / Double(hd).squareRoot()
                    }
                    let peak = scores.max()!
                    let weights = scores.map { exp($0 - peak) }
                    let total = weights.reduce(0, +)
                    for (j, s) in seen.enumerated() {
                        for e in 0..<hd { attention[h * hd + e] += weights[j] / total * values[s][g * hd + e] }
                    }
                }
                var out = multiply(layer.wo, attention)
                if let norm = layer.postAttentionNorm { out = rmsNorm(out, norm) }
                attended[t] = add(x[t], out)
            }
            x = attended
            for t in 0..<x.count {
                let h = rmsNorm(x[t], layer.feedForwardNorm)
                let gate = multiply(layer.gate, h), up = multiply(layer.up, h)
                let activated = zip(gate, up).map { g, u in
                    gemma ? 0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * (g + 0.044715 * g * g * g))) * u
                        : g / (1 + exp(-g)) * u
                }
                var out = multiply(layer.down, activated)
                if let norm = layer.postFeedForwardNorm { out = rmsNorm(out, norm) }
                x[t] = add(x[t], out)
            }
        }
        let head = model.output ?? model.tokenEmbedding
        return x.map { row in multiply(head, rmsNorm(row, model.outputNorm)).map { Float($0) } }
    }

    /// RMSNorm of each `hd`-wide head of `v` with the same weights.
    static func headNorm(_ v: [Double], _ weight: [Float], _ hd: Int) -> [Double] {
        stride(from: 0, to: v.count, by: hd).flatMap { rmsNorm(Array(v[$0..<($0 + hd)]), weight) }
    }

    static func rmsNorm(_ x: [Double], _ weight: [Float]) -> [Double] {
        let meanSquare = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        let scale = 1 / (meanSquare + 1e-5).squareRoot()
        return zip(x, weight).map { $0 * scale * Double($1) }
    }

    static func multiply(_ w: [[Float]], _ x: [Double]) -> [Double] {
        w.map { row in zip(row, x).reduce(0) { $0 + Double($1.0) * $1.1 } }
    }

    static func add(_ x: [Double], _ bias: [Float]?) -> [Double] {
        guard let bias else { return x }
        return zip(x, bias).map { $0 + Double($1) }
    }

    static func add(_ x: [Double], _ y: [Double]) -> [Double] { zip(x, y).map(+) }

    /// Rope of one head: llama pairs (2i, 2i+1), qwen2 and gemma3 pairs (i, i + hd/2); the angle of pair
    /// i is position · base^(−2i/hd) / factor[i].
    static func rotate(_ v: inout [Double], head: Int, position: Int, base ropeBase: Double, _ model: TinyTextModel) {
        let hd = model.headDimension, base = head * hd
        let halves = model.shape.architecture == "qwen2" || model.shape.architecture == "gemma3"
        for i in 0..<(hd / 2) {
            let factor = Double(model.ropeFactors?[i] ?? 1)
            let angle = Double(position) * pow(ropeBase, -2 * Double(i) / Double(hd)) / factor
            let (a, b) = halves ? (base + i, base + i + hd / 2) : (base + 2 * i, base + 2 * i + 1)
            let x0 = v[a], x1 = v[b]
            v[a] = x0 * cos(angle) - x1 * sin(angle)
            v[b] = x0 * sin(angle) + x1 * cos(angle)
        }
    }
}
