import Foundation

/// A plain, obviously-correct forward pass of `TinyTextModel`, in Double, with no cache and no
/// batching: the whole token list goes through every layer with causal attention.
enum NaiveReference {
    /// `[tokens.count][vocabulary]` logits at every position.
    static func logits(_ model: TinyTextModel, tokens: [Int32]) -> [[Float]] {
        logits(model, inputs: tokens.map { model.tokenEmbedding[Int($0)].map(Double.init) })
    }

    /// Logits for rows of input embeddings.
    static func logits(_ model: TinyTextModel, inputs: [[Double]]) -> [[Float]] {
        let shape = model.shape
        let heads = shape.heads, kvHeads = shape.keyValueHeads, hd = model.headDimension
        var x = inputs
        for layer in model.layers {
            var queries: [[Double]] = [], keys: [[Double]] = [], values: [[Double]] = []
            for (position, row) in x.enumerated() {
                let n = rmsNorm(row, layer.attentionNorm)
                var q = add(multiply(layer.wq, n), layer.bq)
                var k = add(multiply(layer.wk, n), layer.bk)
                for h in 0..<heads { rotate(&q, head: h, position: position, model) }
                for h in 0..<kvHeads { rotate(&k, head: h, position: position, model) }
                queries.append(q)
                keys.append(k)
                values.append(add(multiply(layer.wv, n), layer.bv))
            }
            for t in 0..<x.count {
                var attention = [Double](repeating: 0, count: heads * hd)
                for h in 0..<heads {
                    let g = h / (heads / kvHeads)
                    let scores = (0...t).map { s in
                        (0..<hd).reduce(0.0) { $0 + queries[t][h * hd + $1] * keys[s][g * hd + $1] } / Double(hd).squareRoot()
                    }
                    let peak = scores.max()!
                    let weights = scores.map { exp($0 - peak) }
                    let total = weights.reduce(0, +)
                    for s in 0...t {
                        for e in 0..<hd { attention[h * hd + e] += weights[s] / total * values[s][g * hd + e] }
                    }
                }
                x[t] = add(x[t], multiply(layer.wo, attention))
                let h = rmsNorm(x[t], layer.feedForwardNorm)
                let gate = multiply(layer.gate, h), up = multiply(layer.up, h)
                let activated = zip(gate, up).map { g, u in g / (1 + exp(-g)) * u }
                x[t] = add(x[t], multiply(layer.down, activated))
            }
        }
        let head = model.output ?? model.tokenEmbedding
        return x.map { row in multiply(head, rmsNorm(row, model.outputNorm)).map { Float($0) } }
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

    /// Rope of one head: llama pairs (2i, 2i+1), qwen2 pairs (i, i + hd/2); the angle of pair
    /// i is position · base^(−2i/hd) / factor[i].
    static func rotate(_ v: inout [Double], head: Int, position: Int, _ model: TinyTextModel) {
        let hd = model.headDimension, base = head * hd
        for i in 0..<(hd / 2) {
            let factor = Double(model.ropeFactors?[i] ?? 1)
            let angle = Double(position) * pow(Double(model.shape.ropeBase), -2 * Double(i) / Double(hd)) / factor
            let (a, b) = model.shape.architecture == "qwen2" ? (base + i, base + i + hd / 2) : (base + 2 * i, base + 2 * i + 1)
            let x0 = v[a], x1 = v[b]
            v[a] = x0 * cos(angle) - x1 * sin(angle)
            v[b] = x0 * sin(angle) + x1 * cos(angle)
        }
    }
}
