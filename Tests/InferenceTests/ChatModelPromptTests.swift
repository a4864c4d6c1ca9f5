import Foundation
import Testing
import Inference

/// `ChatModel.prompt(question:…history:)` on the bundled demo model: a follow-up question is
/// asked after the earlier exchanges, the image once, in front of the first question.
@Suite("chat prompts with a history")
struct ChatModelPromptTests {
    static let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Models/demo").standardized

    @Test func followUpAfterTheEarlierExchangesWithTheImageFirst() throws {
        let chat = try ChatModel(model: Self.demo.appendingPathComponent(DemoModel.textFile).path,
                                 mmproj: Self.demo.appendingPathComponent(DemoModel.projectorFile).path,
                                 options: TextModelOptions(threadCount: 1))
        let image = try chat.encodeImage(atPath: Self.demo.appendingPathComponent("sample.jpg").path)
        let prompt = try chat.prompt(question: "Is there a red square?", instruction: "Think in stages.", system: nil,
                                     images: [image], history: [("How many circles are there?", "2")])
        let expected = try chat.prompt([.user("How many circles are there?\n\nThink in stages.", images: 1),
                                        .assistant("2"),
                                        .user("Is there a red square?\n\nThink in stages.", images: 0)], images: [image])
        #expect(prompt == expected)
        // The image's rows appear once, before the first question.
        let imageRows = prompt.inputs.indices.filter { if case .image = prompt.inputs[$0] { true } else { false } }
        #expect(imageRows.count == image.positionCount)
        let text = chat.tokenizer.decode(prompt.tokens, renderSpecial: true)
        let first = try #require(text.range(of: "How many circles are there?"))
        let answer = try #require(text.range(of: "2<|im_end|>"))
        let second = try #require(text.range(of: "Is there a red square?"))
        #expect(first.upperBound <= answer.lowerBound && answer.upperBound <= second.lowerBound)
        #expect(text.components(separatedBy: "Think in stages.").count == 3)
        // With no history it is the one-question prompt.
        let alone = try chat.prompt(question: "Is there a red square?", instruction: nil, system: nil, images: [image])
        #expect(alone == (try chat.prompt([.user("Is there a red square?", images: 1)], images: [image])))
        let lastImageRow = try #require(imageRows.last)
        #expect(prompt.count > alone.count && lastImageRow < prompt.count / 2)
    }
}
