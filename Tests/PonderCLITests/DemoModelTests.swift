import Foundation
import Testing

/// The bundled demo model (Models/demo), found by `ponder` with no --model from the
/// executable's package, answering end to end.
@Suite("bundled demo model")
struct DemoModelTests {
    static let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Models/demo").standardized

    struct Sample: Decodable {
        let image: String
        let question: String
        let answer: String
    }

    @Test func answersTheBundledSampleWithFourStages() throws {
        let sample = try JSONDecoder().decode(Sample.self, from: Data(contentsOf: Self.demo.appendingPathComponent("sample.json")))
        let result = try PonderProcess.run(["ask", "--image", Self.demo.appendingPathComponent(sample.image).path,
                                            "--show-stages", "--threads", "1", sample.question])
        #expect(result.status == 0, "\(result.stderr)")
        for stage in ["summary", "caption", "reasoning", "conclusion"] {
            #expect(result.stdout.contains("[\(stage)]\n"), "\(stage) in \(result.stdout)")
        }
        let conclusion = result.stdout.components(separatedBy: "[conclusion]\n").last?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(conclusion == sample.answer, "\(result.stdout)")
    }

    /// Questions of the 20-question sample that the bundled model answers correctly with
    /// greedy decoding: any engine or model regression that changes an answer fails here.
    static let knownCorrect = DemoModelTests.correctIDs("eval-sample")

    static func correctIDs(_ sample: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: demo.appendingPathComponent("\(sample).expected.json").path),
              let ids = try? JSONDecoder().decode([String].self, from: data) else { return [] }
        return ids
    }

    @Test func evalRunsOnTheTwentyQuestionSample() throws {
        let result = try PonderProcess.run(["eval", "--data", Self.demo.appendingPathComponent("eval-sample.jsonl").path,
                                            "--threads", "1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == 21)
        let summary = try #require(objects.last)
        #expect(summary["questions"] as? Int == 20 && summary["errors"] as? Int == 0)
        let correct = Set(objects.dropLast().filter { $0["correct"] as? Bool == true }.compactMap { $0["id"] as? String })
        #expect(Self.knownCorrect.count >= 12, "the committed list of correctly answered questions")
        for id in Self.knownCorrect { #expect(correct.contains(id), "question \(id) is no longer answered correctly") }
    }

    /// The two-question sample: each record is asked as a conversation (the first question and
    /// its reference conclusion as history), and scored on its second question.
    @Test func evalAsksTheTwoTurnSampleAsConversations() throws {
        let data = Self.demo.appendingPathComponent("eval-sample-2turn.jsonl")
        let records = try String(contentsOf: data, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let result = try PonderProcess.run(["eval", "--data", data.path, "--threads", "1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == records.count + 1)
        let summary = try #require(objects.last)
        #expect(summary["questions"] as? Int == records.count && summary["errors"] as? Int == 0)
        for (record, row) in zip(records, objects) {
            let turns = try #require(record["conversations"] as? [[String: Any]])
            #expect(turns.count == 4, "two human/gpt pairs")
            #expect(row["expected"] as? String == record["conclusion"] as? String, "the second question's reference")
        }
        let correct = Set(objects.dropLast().filter { $0["correct"] as? Bool == true }.compactMap { $0["id"] as? String })
        let known = Self.correctIDs("eval-sample-2turn")
        #expect(known.count >= 7, "the committed list of correctly answered follow-ups")
        for id in known { #expect(correct.contains(id), "follow-up \(id) is no longer answered correctly") }
    }
}
