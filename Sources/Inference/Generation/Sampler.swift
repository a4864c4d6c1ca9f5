/// A sampled token and the model's log-probability of it.
public struct SampledToken: Sendable, Hashable {
    public var token: Int32
    /// `log softmax(logits)[token]` of the **original** logits at temperature 1 — before the
    /// repetition penalty, the filters and the temperature. This is the model's own probability
    /// of the token, the number judges and beam search add up; it does not depend on the
    /// sampling parameters.
    public var logProbability: Float

    public init(token: Int32, logProbability: Float) {
        self.token = token
        self.logProbability = logProbability
    }
}

/// Chooses tokens from rows of logits: repetition penalty → top-k → top-p → min-p →
/// temperature → a seeded draw (llama.cpp's default chain), or the penalised argmax when
/// greedy.
///
/// A sampler is the state of one sequence: its random number generator and the window of
/// recent tokens the penalty looks at. The result depends only on the parameters, the seed
/// and the rows it was given, never on threads or timing. Work buffers are kept between calls,
/// so sampling a 128k vocabulary allocates nothing after the first token.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: SeededRandomNumberGenerator
    private var window: PenaltyWindow
    private var row: [Float] = []
    private var candidates = TokenCandidates()

    public init(parameters: SamplingParameters) {
        self.parameters = parameters
        random = SeededRandomNumberGenerator(seed: parameters.seed)
        window = PenaltyWindow(capacity: parameters.penaltyIsActive ? parameters.repetitionWindow : 0)
    }

    /// The tokens the repetition penalty currently looks at, oldest first.
    public var recentTokens: [Int32] { window.tokens }

    /// Records a token the penalty should see (prompt tokens; `sample` records its own choice).
    public mutating func accept(_ token: Int32) {
        window.append(token)
    }

    public mutating func accept<S: Sequence<Int32>>(contentsOf tokens: S) {
        for token in tokens { window.append(token) }
    }

    /// Chooses the next token from one row of logits (one per vocabulary entry) and records it
    /// in the penalty window.
    public mutating func sample(_ logits: [Float]) -> SampledToken {
        logits.withUnsafeBufferPointer { sample($0) }
    }

    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> SampledToken {
        precondition(!logits.isEmpty, "Sampler.sample needs at least one logit")
        let token = choose(logits)
        window.append(token)
        return SampledToken(token: token, logProbability: Self.logProbability(of: token, in: logits))
    }

    private mutating func choose(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        let p = parameters
        if !p.penaltyIsActive {
            if p.isGreedy { return Self.argmax(logits) }
            return chooseFiltered(logits)
        }
        // The penalty changes a few logits: work on a copy of the row.
        var buffer: [Float] = []
        swap(&buffer, &row)
        defer { swap(&buffer, &row) }
        if buffer.count != logits.count { buffer = [Float](repeating: 0, count: logits.count) }
        let window = window
        return buffer.withUnsafeMutableBufferPointer { buffer in
            _ = buffer.initialize(from: logits)
            window.apply(penalty: p.repetitionPenalty, to: buffer)
            let penalised = UnsafeBufferPointer(buffer)
            return p.isGreedy ? Self.argmax(penalised) : chooseFiltered(penalised)
        }
    }

    private mutating func chooseFiltered(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        let p = parameters
        candidates.load(logits, topK: p.topK)
        if p.topP < 1 { candidates.keepTopP(p.topP) }
        if p.minP > 0 { candidates.keepMinP(p.minP) }
        candidates.divide(by: p.temperature)
        return candidates.draw(uniform: random.nextUnitInterval())
    }

    // MARK: - Log-probabilities

    /// The first index of the largest logit (NaN never wins); 0 when every logit is NaN.
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        let best = LogitMath.maximum(logits)
        return Int32(logits.firstIndex(of: best) ?? 0)
    }

    public static func argmax(_ logits: [Float]) -> Int32 {
        logits.withUnsafeBufferPointer { argmax($0) }
    }

    /// `log softmax(logits)[token]` at temperature 1.
    public static func logProbability(of token: Int32, in logits: UnsafeBufferPointer<Float>) -> Float {
        let m = LogitMath.maximum(logits)
        return logits[Int(token)] - LogitMath.logSumExp(logits, maximum: m)
    }

    public static func logProbability(of token: Int32, in logits: [Float]) -> Float {
        logits.withUnsafeBufferPointer { logProbability(of: token, in: $0) }
    }

    /// `log softmax(logits)` over the whole row, at temperature 1.
    public static func logSoftmax(_ logits: [Float]) -> [Float] {
        let total = logits.withUnsafeBufferPointer { LogitMath.logSumExp($0, maximum: LogitMath.maximum($0)) }
        return logits.map { $0 - total }
    }
}

/// The most recent tokens and how often each occurs among them, for the repetition penalty.
/// A ring buffer of `capacity` tokens plus a count per distinct token, as llama.cpp keeps it.
struct PenaltyWindow: Sendable {
    let capacity: Int
    private var ring: [Int32] = []
    private var next = 0
    private(set) var counts: [Int32: Int] = [:]

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        ring.reserveCapacity(self.capacity)
    }

    mutating func append(_ token: Int32) {
        guard capacity > 0 else { return }
        if ring.count < capacity {
            ring.append(token)
        } else {
            let old = ring[next]
            if let count = counts[old] { counts[old] = count > 1 ? count - 1 : nil }
            ring[next] = token
            next = (next + 1) % capacity
        }
        counts[token, default: 0] += 1
    }

    /// The tokens in the window, oldest first.
    var tokens: [Int32] {
        ring.count < capacity ? ring : Array(ring[next...] + ring[..<next])
    }

    /// Divides positive logits of tokens in the window by `penalty` and multiplies the others
    /// by it (llama.cpp's `penalty_repeat`, which is applied once whatever the count).
    func apply(penalty: Float, to row: UnsafeMutableBufferPointer<Float>) {
        for token in counts.keys where token >= 0 && Int(token) < row.count {
            let logit = row[Int(token)]
            row[Int(token)] = logit <= 0 ? logit * penalty : logit / penalty
        }
    }
}
