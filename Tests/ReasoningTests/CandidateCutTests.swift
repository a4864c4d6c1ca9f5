import Foundation
import Inference
import Testing
@testable import Reasoning

/// A scripted model that writes each stage from its opening tag: after the last stage tag it
/// has seen (`<SUMMARY>`, …) it writes that stage's script, character by character, then ends
/// the sequence. It reads the sequence it is given, so whatever a stage is continued from shows
/// in what it writes next, and every history it is asked about is logged.
struct StageScriptModel {
    static let scripts = ["<SUMMARY>": "Count.</SUMMARY>", "<CAPTION>": "Three apples.</CAPTION>",
                          "<REASONING>": "1 + 1 + 1 = 3.</REASONING>", "<CONCLUSION>": "3</CONCLUSION>"]
    let tokenizer = CharacterTokenizer()
    var scripts = Self.scripts
    let seen = HistoryLog()

    func model() -> FakeTextModel {
        let tokenizer = self.tokenizer, scripts = self.scripts, seen = self.seen
        return FakeTextModel(vocabularySize: tokenizer.vocabularySize, contextLength: 1024) { history in
            let text = tokenizer.decode(history.filter { $0 >= 0 }, renderSpecial: true)
            seen.add(text)
            let written = text.split(separator: "?", omittingEmptySubsequences: false).last.map(String.init) ?? ""
            // The stage whose opening tag comes last, and what was written since.
            let open = scripts.keys.compactMap { tag in written.range(of: tag, options: .backwards).map { (tag, $0) } }
                .max { $0.1.upperBound < $1.1.upperBound }
            var next = tokenizer.endOfSequenceToken!
            if let open, let script = scripts[open.0] {
                let since = written[open.1.upperBound...]
                if since.count < script.count, script.hasPrefix(since) {
                    next = tokenizer.encode(String(Array(script)[since.count]), addSpecial: false, parseSpecial: false)[0]
                }
            }
            var logits = [Float](repeating: 0, count: tokenizer.vocabularySize)
            logits[Int(next)] = 12
            return logits
        }
    }

    func prompt(_ question: String) -> GenerationPrompt {
        GenerationPrompt(tokens: tokenizer.encode(question, addSpecial: true, parseSpecial: false))
    }
}

@Suite("Candidates cut at another stage's tag")
struct CandidateCutTests {
    static let question = "How many apples?"

    @Test("LLaVA-CoT: a stage is cut at every other tag of the plan, a thinking model's at none")
    func cutStrings() {
        #expect(StagePlan.llavaCoT.cutStrings(1) == ["<SUMMARY>", "</SUMMARY>", "<CAPTION>", "<REASONING>", "</REASONING>",
                                                      "<CONCLUSION>", "</CONCLUSION>"])
        #expect(!StagePlan.llavaCoT.cutStrings(0).contains("</SUMMARY>") && StagePlan.llavaCoT.cutStrings(0).contains("<SUMMARY>"))
        #expect(StagePlan.llavaCoT.closing(2) == "</REASONING>")
        #expect(StagePlan.thinking.cutStrings(0).isEmpty && StagePlan.thinking.cutStrings(1).isEmpty)
        #expect(StagePlan.thinking.closing(0) == "</think>" && StagePlan.thinking.closing(1) == nil)
    }

    @Test("a caption that runs into another stage's tag is cut there, flagged, and the reasoning continues from its text and </CAPTION>",
          arguments: ["</SUMMARY>", "<CAPTION>", "<REASONING>", "</REASONING>", "</CONCLUSION>"])
    func captionRunsIntoAnotherTag(tag: String) async throws {
        var script = StageScriptModel()
        script.scripts["<CAPTION>"] = "Three apples.\n\n" + tag + "\n\n1 + 1 + 1 = 3.</REASONING>"
        let model = script.model()
        let reasoner = Reasoner(generator: Generator(model: model, tokenizer: script.tokenizer), judge: LogProbabilityJudge())
        var events: [ReasoningEvent] = []
        let record = try await reasoner.run(prompt: script.prompt(Self.question), question: Self.question,
                                            configuration: ReasoningConfiguration(strategy: .stageBeam, candidates: 2,
                                                                                  stageTokenBudget: 64)) { events.append($0) }
        let caption = record.steps[1]
        #expect(caption.candidates.map(\.cutAt) == [tag, tag])
        #expect(caption.candidates.map(\.text) == ["Three apples.", "Three apples."])
        #expect(script.tokenizer.decode(caption.candidates[0].tokens) == "Three apples.</CAPTION>")
        // The kept tokens' log-probabilities only: "Three apples." is 13 characters.
        #expect(caption.candidates[0].logProbabilities.count == 13)
        #expect(record.steps.indices.filter { $0 != 1 }.allSatisfy { record.steps[$0].candidates.allSatisfy { $0.cutAt == nil } })
        #expect(record.stages == ["summary": "Count.", "caption": "Three apples.", "reasoning": "1 + 1 + 1 = 3.",
                                  "conclusion": "3"])
        // The sequence the reasoning continued holds the caption's text and its own closing tag,
        // and nothing of the tag that cut it.
        let continued = Self.question + "<SUMMARY>Count.</SUMMARY>\n\n<CAPTION>Three apples.</CAPTION>"
        let afterCaption = script.seen.all.filter { $0.contains("</CAPTION>") }
        #expect(!afterCaption.isEmpty)
        #expect(afterCaption.allSatisfy { $0.contains(continued) })
        #expect(script.seen.contains(continued + "\n\n<REASONING>1 + 1 + 1 = 3."))
        let finished = events.compactMap { event -> String? in
            if case .candidateFinished(let stage, _, let text, _, _, let cutAt) = event, stage == "caption" {
                return "\(text)|\(cutAt ?? "-")"
            }
            return nil
        }
        #expect(finished == ["Three apples.|\(tag)", "Three apples.|\(tag)"])
        let decoded = try JSONDecoder().decode(ReasoningRecord.self, from: JSONEncoder().encode(record))
        #expect(decoded == record && decoded.steps[1].candidates[0].cutAt == tag)
        for id in 0..<32 { #expect(model.history(of: SequenceID(rawValue: id)) == nil) }
    }

    @Test("candidates that end at their own closing tag are not flagged")
    func uncutCandidates() async throws {
        let script = StageScriptModel()
        let reasoner = Reasoner(generator: Generator(model: script.model(), tokenizer: script.tokenizer), judge: FirstJudge())
        var events: [ReasoningEvent] = []
        let record = try await reasoner.run(prompt: script.prompt(Self.question), question: Self.question,
                                            configuration: ReasoningConfiguration(strategy: .stageBeam, candidates: 2,
                                                                                  stageTokenBudget: 64)) { events.append($0) }
        #expect(record.stages["caption"] == "Three apples.")
        #expect(record.steps.allSatisfy { $0.candidates.allSatisfy { $0.cutAt == nil } })
        #expect(script.tokenizer.decode(record.steps[1].candidates[0].tokens) == "Three apples.</CAPTION>")
        #expect(!events.contains { if case .candidateFinished(_, _, _, _, _, let cutAt) = $0 { cutAt != nil } else { false } })
        let line = String(decoding: try JSONEncoder().encode(events.first { if case .candidateFinished = $0 { true } else { false } }!),
                          as: UTF8.self)
        #expect(!line.contains("cut_at"))
    }

    @Test("a cut keeps the sampled tokens before the tag, drops the whitespace before it and writes the closing tag")
    func cutCandidate() throws {
        let tokenizer = CharacterTokenizer()
        let model = LocalReasoningModel(generator: Generator(model: FakeTextModel(vocabularySize: tokenizer.vocabularySize),
                                                             tokenizer: tokenizer)) { _ in GenerationPrompt(tokens: []) }
        let sampled = tokenizer.encode("Count. \n<CAPTION>", addSpecial: false, parseSpecial: false)
        let result = GenerationResult(text: "Count. \n", tokens: sampled, logProbabilities: sampled.map { _ in -0.5 },
                                      reason: .stopString("<CAPTION>"), sequence: nil)
        let cut = model.candidate(from: result, cuts: StagePlan.llavaCoT.cutStrings(0), closing: "</SUMMARY>")
        #expect(cut.cutAt == "<CAPTION>" && cut.text == "Count.")
        #expect(tokenizer.decode(cut.tokens) == "Count.</SUMMARY>")
        #expect(cut.logProbabilities.count == 6)
        // Its own closing tag is no cut.
        let ended = GenerationResult(text: "Count.", tokens: sampled, logProbabilities: [], reason: .stopString("</SUMMARY>"),
                                     sequence: nil)
        let whole = model.candidate(from: ended, cuts: StagePlan.llavaCoT.cutStrings(0), closing: "</SUMMARY>")
        #expect(whole.cutAt == nil && whole.tokens == sampled && whole.text == "Count.")
    }

    @Test("candidate_finished carries cut_at when the candidate was cut")
    func cutInJSON() throws {
        let event = ReasoningEvent.candidateFinished(stage: "caption", candidate: 1, text: "Three apples.", tokens: 27,
                                                     logprob: -3, cutAt: "</SUMMARY>")
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as! [String: Any]
        #expect(object["cut_at"] as? String == "</SUMMARY>" && object["event"] as? String == "candidate_finished")
    }
}
