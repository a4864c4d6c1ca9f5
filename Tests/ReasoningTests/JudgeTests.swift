import Foundation
import Testing
@testable import Reasoning

@Suite("Judges")
struct JudgeTests {
    static let candidates = [
        Candidate(text: "a", tokens: [1, 2], logProbabilities: [-1, -3]),     // mean −2
        Candidate(text: "b", tokens: [3], logProbabilities: [-0.5]),          // mean −0.5
        Candidate(text: "c", tokens: [4, 5, 6], logProbabilities: [-0.5, -0.5, -0.5]),  // mean −0.5, later
        Candidate(text: "", tokens: [], logProbabilities: []),                // −∞
    ]

    static func context(_ candidates: [Candidate] = candidates) -> JudgeContext {
        JudgeContext(stage: .caption, question: "How many apples?", acceptedStages: [(.summary, "Count them.")],
                     candidates: candidates)
    }

    @Test func firstJudgeTakesTheFirst() async throws {
        #expect(try await FirstJudge().judge(Self.context()).chosen == 0)
        #expect(try await FirstJudge().judge(Self.context(Array(Self.candidates.reversed()))).chosen == 0)
    }

    @Test func logProbabilityJudgeTakesTheHighestMeanAndKeepsTheEarlierOnTies() async throws {
        let verdict = try await LogProbabilityJudge().judge(Self.context())
        #expect(verdict.chosen == 1)
        #expect(verdict.scores == [-2, -0.5, -0.5, -.infinity])
        let reordered = try await LogProbabilityJudge().judge(Self.context([Self.candidates[0], Self.candidates[2], Self.candidates[1]]))
        #expect(reordered.chosen == 1)
    }

    @Test func manualJudgeAsksTheCallerAndChecksTheAnswer() async throws {
        let judge = ManualJudge { context in
            #expect(context.stage == .caption && context.candidates.count == 4)
            return 2
        }
        #expect(try await judge.judge(Self.context()).chosen == 2)
        let wrong = ManualJudge { _ in 7 }
        await #expect(throws: ManualJudge.InvalidChoice.self) { try await wrong.judge(Self.context()) }
    }

    @Test func verdictsRoundTripThroughJSON() throws {
        let verdict = Verdict(chosen: 1, scores: [0.5, 1.5], comparisons: [.init(first: 0, second: 1, winner: 1)])
        let data = try JSONEncoder().encode(verdict)
        #expect(try JSONDecoder().decode(Verdict.self, from: data) == verdict)
    }
}

@Suite("Reasoning events as JSON")
struct ReasoningEventJSONTests {
    static func object(_ event: ReasoningEvent) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as! [String: Any]
    }

    @Test func eventsCarryTheContractFields() throws {
        let started = try Self.object(.stageStarted(stage: "summary", candidates: 4))
        #expect(started["event"] as? String == "stage_started" && started["stage"] as? String == "summary"
                && started["candidates"] as? Int == 4)
        let token = try Self.object(.token(stage: "caption", candidate: 2, text: "a\"b"))
        #expect(token["event"] as? String == "token" && token["candidate"] as? Int == 2 && token["text"] as? String == "a\"b")
        let finished = try Self.object(.candidateFinished(stage: "reasoning", candidate: 1, text: "t", tokens: 5, logprob: -2.5))
        #expect(finished["event"] as? String == "candidate_finished" && finished["tokens"] as? Int == 5
                && finished["logprob"] as? Double == -2.5)
        let empty = try Self.object(.candidateFinished(stage: "reasoning", candidate: 1, text: "", tokens: 0, logprob: -.infinity))
        #expect(empty["logprob"] is NSNull)
        let chosen = try Self.object(.stageChosen(stage: "conclusion", candidate: 3, by: .judge, scores: [1, -.infinity]))
        #expect(chosen["event"] as? String == "stage_chosen" && chosen["by"] as? String == "judge" && chosen["candidate"] as? Int == 3)
        let scores = chosen["scores"] as? [Any]
        #expect(scores?.count == 2 && scores?[0] as? Double == 1 && scores?[1] is NSNull)
    }
}
