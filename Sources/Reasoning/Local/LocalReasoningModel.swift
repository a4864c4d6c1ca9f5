import Foundation
import Inference

/// The in-process model behind the seam: conversations rendered to prompts (`render`), a
/// prompt prefilled once (`PreparedPrompt`), and every continuation a fork of a kept KV
/// sequence, so nothing is prefilled twice. Candidates of one request decode together in one
/// batch.
public struct LocalReasoningModel: ReasoningModel {
    public typealias Renderer = @Sendable (ReasoningConversation) throws -> GenerationPrompt

    public let generator: Generator
    public let render: Renderer
    /// For benchmarks only: every candidate from scratch, as the reference implementation runs
    /// stage-beam, from the prompt this builds (which may encode the image again) and its whole
    /// accepted path. Nil: forks of the shared prefix.
    public let naivePrompt: (@Sendable () throws -> GenerationPrompt)?
    /// Whether the self judge's comparisons reuse the run's prompt and each other's prefix.
    public let sharesJudgePrefixes: Bool

    public init(generator: Generator, naivePrompt: (@Sendable () throws -> GenerationPrompt)? = nil,
                sharesJudgePrefixes: Bool = true, render: @escaping Renderer) {
        self.generator = generator
        self.naivePrompt = naivePrompt
        self.sharesJudgePrefixes = sharesJudgePrefixes
        self.render = render
    }

    /// A model whose conversations are rendered by `chat` with `images` (the conversation's
    /// image goes in front of its first question).
    public init(chat: ChatModel, images: [EncodedImage], naivePrompt: (@Sendable () throws -> GenerationPrompt)? = nil,
                sharesJudgePrefixes: Bool = true) {
        self.init(generator: Generator(model: chat.textModel, tokenizer: chat.tokenizer), naivePrompt: naivePrompt,
                  sharesJudgePrefixes: sharesJudgePrefixes) { conversation in
            try chat.prompt(question: conversation.question, instruction: conversation.instruction,
                            system: conversation.system, images: conversation.withImage ? images : [],
                            history: conversation.history.map { ($0.question, $0.answer) })
        }
    }

    public var model: any TextModel { generator.model }
    public var tokenizer: any Tokenizer { generator.tokenizer }

    public func prepare(_ conversation: ReasoningConversation) async throws -> any ReasoningPrefix {
        let prompt = try render(conversation)
        guard prompt.count < model.contextLength else {
            throw LocalModelError.conversationTooLong(positions: prompt.count, context: model.contextLength)
        }
        return try prepare(prompt: prompt)
    }

    /// Prefills `prompt` once: the prefix every continuation of the run forks.
    public func prepare(prompt: GenerationPrompt) throws -> LocalPrefix {
        LocalPrefix(prepared: try PreparedPrompt(model: model, prompt: prompt))
    }

    public func extend(_ prefix: any ReasoningPrefix, with pieces: [PrefixPiece]) async throws -> any ReasoningPrefix {
        let prefix = try local(prefix)
        let inputs = pieces.flatMap { piece in
            (piece.tokens ?? tokenizer.encode(piece.text, addSpecial: false, parseSpecial: true)).map { Batch.Input.token($0) }
        }
        return LocalPrefix(prepared: prefix.prepared, sequence: nil, borrowing: prefix, pending: prefix.pending + inputs,
                           path: prefix.path + inputs, text: prefix.text + pieces.map(\.text).joined())
    }

    func local(_ prefix: any ReasoningPrefix) throws -> LocalPrefix {
        guard let local = prefix as? LocalPrefix else { throw LocalModelError.foreignPrefix }
        return local
    }

    public func sample(_ request: SampleRequest, onEvent: (SampleEvent) -> Void) async throws -> SampleResult {
        let prefixes = try request.groups.map { try local($0.prefix) }
        let opening = request.opening.isEmpty ? []
            : tokenizer.encode(request.opening, addSpecial: false, parseSpecial: true).map { Batch.Input.token($0) }
        let stop = StopCondition(stopStrings: request.stops + request.cuts, maxTokens: request.maxTokens)
        var results: [GenerationResult] = []
        var stats = GenerationStats()
        var owners: [Int] = []   // the group of each candidate
        if let naivePrompt {
            var offset = 0
            for (group, prefix) in prefixes.enumerated() {
                for _ in 0..<request.groups[group].count {
                    let prompt = try naivePrompt()
                    let one = GenerationRequest(prompt: GenerationPrompt(inputs: prompt.inputs + prefix.path + opening),
                                                parameters: request.parameters.offsettingSeed(by: offset), stop: stop)
                    let base = offset
                    let (generated, oneStats) = await generator.run(one) { event in
                        Self.forward(event, offset: base, cuts: request.cuts, onEvent)
                    }
                    stats.promptTokens += oneStats.promptTokens
                    stats.generatedTokens += oneStats.generatedTokens
                    results += generated
                    owners += Array(repeating: group, count: generated.count)
                    offset += generated.count
                }
            }
        } else {
            let groups = zip(request.groups, prefixes).map { group, prefix in
                GenerationRequest.Group(prompt: GenerationPrompt(inputs: prefix.pending + opening),
                                        continuing: prefix.sequence, count: group.count)
            }
            let generation = GenerationRequest(groups: groups, parameters: request.parameters, stop: stop,
                                               keepsSequences: request.keepsContinuations)
            (results, stats) = await generator.run(generation) { event in
                Self.forward(event, offset: 0, cuts: request.cuts, onEvent)
            }
            owners = request.groups.enumerated().flatMap { Array(repeating: $0.offset, count: $0.element.count) }
        }
        let candidates = results.map { candidate(from: $0, cuts: request.cuts, closing: request.closing) }
        var continuations: [(any ReasoningPrefix)?] = []
        var failure: (any Error)?
        for (index, result) in results.enumerated() {
            if case .failed(let error) = result.reason, failure == nil { failure = error }
            guard request.keepsContinuations, index < owners.count else {
                if let sequence = result.sequence { model.release(sequence) }
                continuations.append(nil)
                continue
            }
            continuations.append(try continuation(of: result, candidate: candidates[index], after: prefixes[owners[index]],
                                                  opening: opening, request: request))
        }
        return SampleResult(candidates: candidates, continuations: continuations, promptTokens: stats.promptTokens,
                            generatedTokens: stats.generatedTokens, failure: failure)
    }

    /// Where a kept candidate continues from: its sequence holds the sampled tokens but the
    /// last; one that departs from the candidate's tokens (a cut candidate: the tag that cut
    /// it) is truncated where they part, and the candidate's tokens from there on are pending.
    private func continuation(of result: GenerationResult, candidate: Candidate, after parent: LocalPrefix,
                              opening: [Batch.Input], request: SampleRequest) throws -> LocalPrefix {
        let path = parent.path + opening + candidate.tokens.map { Batch.Input.token($0) }
        let text = parent.text + request.opening + candidate.text + (candidate.cutAt != nil ? request.closing ?? "" : "")
        guard let sequence = result.sequence else {
            // Naive runs keep no sequence: the continuation feeds its whole path again.
            return LocalPrefix(prepared: parent.prepared, sequence: nil, borrowing: parent,
                               pending: parent.pending + opening + candidate.tokens.map { .token($0) }, path: path, text: text)
        }
        let parentLength = try model.length(of: parent.sequence)
        let length = try model.length(of: sequence)
        let held = min(max(0, length - parentLength - parent.pending.count - opening.count), result.tokens.count)
        let reused = Self.commonPrefixLength(result.tokens.prefix(held), candidate.tokens)
        if reused < held { try model.truncate(sequence, to: length - held + reused) }
        return LocalPrefix(prepared: parent.prepared, sequence: sequence, borrowing: nil,
                           pending: candidate.tokens.dropFirst(reused).map { .token($0) }, path: path, text: text)
    }

    /// Passes a generation event on as a sample event; a candidate that stopped at one of
    /// `cuts` is reported cut there, with its text up to the tag.
    static func forward(_ event: BatchGenerationEvent, offset: Int, cuts: [String], _ onEvent: (SampleEvent) -> Void) {
        switch event {
        case .token(let candidate, let token):
            if !token.text.isEmpty { onEvent(.token(candidate: candidate + offset, text: token.text)) }
        case .finished(let candidate, let result):
            let cut = cutTag(of: result, cuts: cuts)
            onEvent(.finished(candidate: candidate + offset, text: cut == nil ? result.text : result.text.trimmedAtEnd,
                              generated: result.tokens.count, logprob: result.totalLogProbability, cutAt: cut))
        case .done:
            break
        }
    }

    public func choiceSession(sharing: (any ReasoningPrefix)?) -> any ChoiceSession {
        let shared = (sharing as? LocalPrefix).map { SharedPrefix(sequence: $0.prepared.sequence, inputs: Array($0.prepared.held)) }
        return LocalChoiceSession(model: self, shared: sharesJudgePrefixes ? shared : nil)
    }
}

/// A point in a local run: the prepared prompt (kept alive by every prefix after it), the KV
/// sequence that holds the prefix but its pending inputs, and what is still to be fed.
public final class LocalPrefix: ReasoningPrefix {
    let prepared: PreparedPrompt
    /// Its own sequence, released with it; nil: the prepared prompt's, or the borrowed prefix's.
    private let own: SequenceID?
    /// The prefix whose sequence this one continues without owning it (kept alive by this one).
    private let borrowed: LocalPrefix?
    /// Inputs the sequence does not hold yet.
    let pending: [Batch.Input]
    /// Every input after the prompt, fed or pending (what a naive run feeds again).
    let path: [Batch.Input]
    public let text: String

    init(prepared: PreparedPrompt, sequence: SequenceID? = nil, borrowing: LocalPrefix? = nil,
         pending: [Batch.Input]? = nil, path: [Batch.Input] = [], text: String = "") {
        self.prepared = prepared
        own = sequence
        borrowed = sequence == nil ? borrowing : nil
        self.pending = pending ?? prepared.pending
        self.path = path
        self.text = text
    }

    deinit { if let own { prepared.model.release(own) } }

    /// The sequence this prefix continues.
    var sequence: SequenceID { own ?? borrowed?.sequence ?? prepared.sequence }
    /// The positions held in the model for the prompt (the image among them).
    public var promptPositions: Int { prepared.held.count }
}

/// Why the local model cannot do what was asked.
public enum LocalModelError: Error, Sendable, CustomStringConvertible {
    case foreignPrefix
    case noRenderer
    case notLocal
    case conversationTooLong(positions: Int, context: Int)

    public var description: String {
        switch self {
        case .foreignPrefix: "The prefix to continue was not made by the local model."
        case .noRenderer: "This local model takes rendered prompts only; it has no chat template to render a conversation with."
        case .notLocal: "A rendered prompt can only be run on the local model."
        case .conversationTooLong(let positions, let context):
            "The conversation is \(positions) positions (image included), more than the context of \(context); load the image again (/image) to start over, or raise --context-length."
        }
    }
}
