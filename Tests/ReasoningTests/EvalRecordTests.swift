import Foundation
import Testing
@testable import Reasoning

@Suite("Eval records and answer matching")
struct EvalRecordTests {
    @Test("a LLaVA-CoT-100k line gives the question, the reference conclusion and the image path")
    func parsesARecord() throws {
        let line = #"{"id": "q7", "image": "images/7.jpg", "type": "count", "conversations": [{"from": "human", "value": "<image>\nHow many circles?"}, {"from": "gpt", "value": "<SUMMARY>Count.</SUMMARY><CAPTION>Two circles.</CAPTION><REASONING>1 + 1.</REASONING><CONCLUSION> 2 </CONCLUSION>"}]}"#
        let record = try EvalRecord(json: Substring(line), line: 3, file: "/data/set/held.jsonl")
        #expect(record.id == "q7" && record.type == "count")
        #expect(record.question == "How many circles?")
        #expect(record.answer == "2")
        #expect(record.image == "/data/set/images/7.jpg")
    }

    @Test("several human/gpt pairs: the earlier ones are the history, with their conclusions as the answers")
    func multiTurnRecord() throws {
        let line = #"{"id": "t2", "image": "i.jpg", "conversations": [{"from": "human", "value": "<image>\nHow many circles?"}, {"from": "gpt", "value": "<SUMMARY>s</SUMMARY><CAPTION>c</CAPTION><REASONING>r</REASONING><CONCLUSION>2</CONCLUSION>"}, {"from": "human", "value": "What colour is the square?"}, {"from": "gpt", "value": "<SUMMARY>s</SUMMARY><CAPTION>c</CAPTION><REASONING>r</REASONING><CONCLUSION>red</CONCLUSION>"}, {"from": "human", "value": "Is there a diamond?"}, {"from": "gpt", "value": "<CONCLUSION> no </CONCLUSION>"}]}"#
        let record = try EvalRecord(json: Substring(line), line: 1, file: "d.jsonl")
        #expect(record.history == [EvalRecord.Turn(question: "How many circles?", answer: "2"),
                                   EvalRecord.Turn(question: "What colour is the square?", answer: "red")])
        #expect(record.question == "Is there a diamond?")
        #expect(record.answer == "no")
        let single = try EvalRecord(json: Substring(#"{"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Q?"}, {"from": "gpt", "value": "A"}]}"#),
                                    line: 4, file: "d.jsonl")
        #expect(single.history.isEmpty && single.question == "Q?" && single.answer == "A" && single.id == "line 4")
    }

    @Test(arguments: [
        (#"{"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}, {"from": "gpt", "value": "c"}]}"#,
         #"Line 2 of d.jsonl has two "human" turns in a row (turn 2)."#),
        (#"{"conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "b"}]}"#,
         #"Line 2 of d.jsonl has a "gpt" turn with no "human" turn before it."#),
        (#"{"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}, {"from": "human", "value": "c"}]}"#,
         #"Line 2 of d.jsonl ends with a "human" turn that has no "gpt" reference answer."#),
    ])
    func malformedConversationsNameTheTurn(_ line: String, _ message: String) {
        #expect {
            _ = try EvalRecord(json: Substring(line), line: 2, file: "d.jsonl")
        } throws: { error in
            String(describing: error) == message
        }
    }

    @Test(arguments: [
        (#"not json"#, "Line 2 of d.jsonl is not a JSON object."),
        (#"{"id": 1}"#, #"Line 2 of d.jsonl has no "conversations" list."#),
        (#"{"conversations": [{"from": "human", "value": "q"}]}"#, #"Line 2 of d.jsonl needs a "human" and a "gpt" turn with a "value"."#),
    ])
    func badLinesNameTheFileAndLine(_ line: String, _ message: String) {
        #expect(throws: EvalDataError(file: "d.jsonl", line: 2, problem: String(message.dropFirst("Line 2 of d.jsonl ".count).dropLast()))) {
            _ = try EvalRecord(json: Substring(line), line: 2, file: "d.jsonl")
        }
        let error = EvalDataError(file: "d.jsonl", line: 2, problem: String(message.dropFirst("Line 2 of d.jsonl ".count).dropLast()))
        #expect(error.description == message)
    }

    @Test("normalised exact match ignores case, spaces, quotes, final punctuation and a leading article")
    func normalisedMatch() {
        #expect(AnswerMatch.matches(" The Red  circle. ", reference: "red circle"))
        #expect(AnswerMatch.matches("\"Yes!\"", reference: "yes"))
        #expect(AnswerMatch.matches("3", reference: "3"))
        #expect(!AnswerMatch.matches("13", reference: "3"))
        #expect(!AnswerMatch.matches("red", reference: "blue"))
        #expect(!AnswerMatch.matches("", reference: "blue"))
    }

    @Test("a letter reference is matched by option letter")
    func optionLetters() {
        #expect(AnswerMatch.matches("B) the square", reference: "B"))
        #expect(AnswerMatch.matches("(b)", reference: "B."))
        #expect(!AnswerMatch.matches("C. the circle", reference: "B"))
        #expect(!AnswerMatch.matches("Because", reference: "B"))
        #expect(AnswerMatch.optionLetter("Because") == nil)
    }
}
