/// An in-memory fake `Tokenizer` for tests of later modules: one token per character of a
/// given alphabet, 256 byte tokens for everything else (so any text round-trips), and named
/// special tokens.
///
/// Ids: the special tokens first (in the order given), then bytes 0x00…0xFF, then the alphabet.
public struct CharacterTokenizer: Tokenizer {
    public let specialTexts: [String]
    public let alphabet: [Unicode.Scalar]
    public let beginningOfSequenceToken: Int32?
    public let endOfSequenceToken: Int32?
    public let endOfTurnToken: Int32?
    public let paddingToken: Int32?
    public let addBeginningOfSequence: Bool
    private let alphabetIndex: [Unicode.Scalar: Int32]

    /// - Parameters:
    ///   - alphabet: characters that get a token of their own.
    ///   - specialTokens: texts of control tokens, e.g. `["<s>", "</s>", "<|eot|>"]`.
    ///   - beginningOfSequence, endOfSequence, endOfTurn, padding: which special texts play
    ///     those roles.
    public init(alphabet: String = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?'\n",
                specialTokens: [String] = ["<s>", "</s>", "<|eot|>", "<pad>"],
                beginningOfSequence: String? = "<s>", endOfSequence: String? = "</s>",
                endOfTurn: String? = "<|eot|>", padding: String? = "<pad>", addBeginningOfSequence: Bool = true) {
        specialTexts = specialTokens
        var seen = Set<Unicode.Scalar>()
        self.alphabet = alphabet.unicodeScalars.filter { seen.insert($0).inserted }
        let base = Int32(specialTokens.count + 256)
        alphabetIndex = Dictionary(uniqueKeysWithValues: self.alphabet.enumerated().map { ($1, base + Int32($0)) })
        func id(_ text: String?) -> Int32? { text.flatMap { specialTokens.firstIndex(of: $0) }.map(Int32.init) }
        beginningOfSequenceToken = id(beginningOfSequence)
        endOfSequenceToken = id(endOfSequence)
        endOfTurnToken = id(endOfTurn)
        paddingToken = id(padding)
        self.addBeginningOfSequence = addBeginningOfSequence
    }

    public var vocabularySize: Int { specialTexts.count + 256 + alphabet.count }

    /// The id of byte `value`.
    public func byteToken(_ value: UInt8) -> Int32 { Int32(specialTexts.count) + Int32(value) }

    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        if addSpecial && addBeginningOfSequence, let bos = beginningOfSequenceToken { output.append(bos) }
        var rest = Substring(text)
        while !rest.isEmpty {
            if parseSpecial, let (index, special) = specialTexts.enumerated()
                .filter({ rest.hasPrefix($0.element) && !$0.element.isEmpty })
                .max(by: { $0.element.utf8.count < $1.element.utf8.count }) {
                output.append(Int32(index))
                rest = rest.dropFirst(special.count)
                continue
            }
            let scalar = rest.unicodeScalars.first!
            if let id = alphabetIndex[scalar] {
                output.append(id)
            } else {
                output += String(scalar).utf8.map(byteToken)
            }
            rest = Substring(rest.unicodeScalars.dropFirst())
        }
        return output
    }

    public func piece(for token: Int32, special: Bool) -> [UInt8] {
        let specialCount = Int32(specialTexts.count)
        switch token {
        case 0..<specialCount: return special ? Array(specialTexts[Int(token)].utf8) : []
        case specialCount..<(specialCount + 256): return [UInt8(token - specialCount)]
        case (specialCount + 256)..<Int32(vocabularySize): return Array(String(alphabet[Int(token - specialCount - 256)]).utf8)
        default: return []
        }
    }

    public func detokenize(_ tokens: [Int32], removeSpecial: Bool, renderSpecial: Bool) -> [UInt8] {
        var slice = tokens[...]
        if removeSpecial, addBeginningOfSequence, let bos = beginningOfSequenceToken, slice.first == bos {
            slice = slice.dropFirst()
        }
        return slice.flatMap { piece(for: $0, special: renderSpecial) }
    }

    public func isEndOfGeneration(_ token: Int32) -> Bool {
        token == endOfSequenceToken || token == endOfTurnToken
    }
}
