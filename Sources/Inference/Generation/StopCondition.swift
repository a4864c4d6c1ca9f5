/// When a generated sequence ends (besides cancellation and errors).
public struct StopCondition: Sendable, Hashable {
    /// Texts that end the sequence when they appear in its decoded text, even split across
    /// tokens. The stop string and anything after it are not emitted. Empty strings are ignored.
    public var stopStrings: [String]
    /// The most tokens to sample (the end-of-generation token counts); nil means no limit but
    /// the context length.
    public var maxTokens: Int?
    /// Whether an end-of-generation token (`Tokenizer.isEndOfGeneration`) ends the sequence.
    public var stopsAtEndOfGeneration: Bool

    public init(stopStrings: [String] = [], maxTokens: Int? = nil, stopsAtEndOfGeneration: Bool = true) {
        self.stopStrings = stopStrings
        self.maxTokens = maxTokens
        self.stopsAtEndOfGeneration = stopsAtEndOfGeneration
    }

    /// Whether `count` sampled tokens use up the budget.
    public func budgetIsSpent(after count: Int) -> Bool {
        maxTokens.map { count >= $0 } ?? false
    }
}

/// Why a generated sequence ended.
public enum FinishReason: Sendable, Equatable, CustomStringConvertible {
    /// The model produced an end-of-generation token.
    case endOfGeneration
    /// The decoded text reached this stop string.
    case stopString(String)
    /// `StopCondition.maxTokens` tokens were sampled.
    case maxTokens
    /// The sequence reached the model's context length.
    case contextFull
    /// The task was cancelled or the consumer stopped listening.
    case cancelled
    /// The model failed; the sequence stops where it was.
    case failed(GenerationError)

    /// A short lowercase name for logs and JSON: `eos`, `stop`, `length`, `context`,
    /// `cancelled`, `error`.
    public var name: String {
        switch self {
        case .endOfGeneration: "eos"
        case .stopString: "stop"
        case .maxTokens: "length"
        case .contextFull: "context"
        case .cancelled: "cancelled"
        case .failed: "error"
        }
    }

    public var description: String {
        switch self {
        case .stopString(let text): "stop string \(text.debugDescription)"
        case .failed(let error): "error: \(error.description)"
        default: name
        }
    }
}

/// Finds stop strings in text that arrives in pieces.
///
/// `append` returns the text that is safe to show: text that could still be the start of a
/// stop string is held back until the next piece settles it, and at a match everything from
/// the stop string on is dropped. Matching is on UTF-8 bytes (as llama.cpp's), so a stop string
/// split across tokens, or a multi-byte character split across pieces, is still found.
public struct StopStringMatcher: Sendable, Hashable {
    public let stopStrings: [String]
    private let patterns: [[UInt8]]
    private var held: [UInt8] = []
    /// The stop string found, once one is.
    public private(set) var match: String?

    public init(stopStrings: [String]) {
        let kept = stopStrings.filter { !$0.isEmpty }
        self.stopStrings = kept
        patterns = kept.map { Array($0.utf8) }
    }

    /// The text held back because it may begin a stop string.
    public var heldText: String { String(decoding: held, as: UTF8.self) }

    /// Adds a piece of text; returns what may be emitted now. After a match it returns "".
    public mutating func append(_ text: String) -> String {
        guard match == nil else { return "" }
        guard !patterns.isEmpty else { return text }
        held += text.utf8
        if let (start, pattern) = earliestMatch() {
            match = stopStrings[pattern]
            let released = String(decoding: held[..<start], as: UTF8.self)
            held.removeAll()
            return released
        }
        let keep = longestPartialMatch()
        let released = String(decoding: held[..<(held.count - keep)], as: UTF8.self)
        held.removeFirst(held.count - keep)
        return released
    }

    /// Ends the text: a held partial match was not a stop string after all, so release it.
    public mutating func flush() -> String {
        defer { held.removeAll() }
        return String(decoding: held, as: UTF8.self)
    }

    /// The first position where a stop string starts in `held` (the longest one there).
    private func earliestMatch() -> (start: Int, pattern: Int)? {
        for start in held.indices {
            var found: Int?
            for (index, pattern) in patterns.enumerated() where hasPattern(pattern, at: start) {
                if found.map({ patterns[$0].count < pattern.count }) ?? true { found = index }
            }
            if let found { return (start, found) }
        }
        return nil
    }

    private func hasPattern(_ pattern: [UInt8], at start: Int) -> Bool {
        guard held.count - start >= pattern.count else { return false }
        for offset in pattern.indices where held[start + offset] != pattern[offset] { return false }
        return true
    }

    /// The length of the longest end of `held` that is a proper beginning of a stop string.
    /// Such an end starts on a character boundary, because a stop string does.
    private func longestPartialMatch() -> Int {
        var best = 0
        for pattern in patterns {
            var length = min(pattern.count - 1, held.count)
            while length > best {
                if held[(held.count - length)...].elementsEqual(pattern[..<length]) { best = length; break }
                length -= 1
            }
        }
        return best
    }
}
