// Choosing a family by name or from a template, the errors and warnings, and the image
// marker helpers.

import Testing
@testable import Inference

@Suite("Chat template names and fallbacks")
struct ChatTemplateResolutionTests {
    static let llama3Template =
        "{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content }}<|eot_id|>{% endfor %}"

    @Test("every family is found by its llama.cpp name", arguments: ChatTemplateFamily.allCases)
    func nameRoundTrip(_ family: ChatTemplateFamily) {
        #expect(ChatTemplateFamily(name: family.name) == family)
        #expect(ChatTemplateFamily.allNames.contains(family.name))
    }

    @Test("names are matched exactly", arguments: ["ChatML", "Llama3", " gemma", "gemma ", "mistral", ""])
    func namesAreExact(_ name: String) {
        #expect(ChatTemplateFamily(name: name) == nil)
    }

    @Test("all names cover the Mistral and Llama 2 variants")
    func allNames() {
        #expect(ChatTemplateFamily.allNames == [
            "chatml", "gemma", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "llama3",
            "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "smolvlm",
        ])
    }

    @Test("a name overrides the model's template")
    func overrideWins() throws {
        let detection = try ChatTemplateFamily.resolve(name: "gemma", template: Self.llama3Template)
        #expect(detection == .recognized(.gemma))
        #expect(detection.warning == nil)
        #expect(try ChatTemplateFamily.resolve(name: "chatml", template: nil) == .recognized(.chatml))
    }

    @Test("without a name the template decides")
    func templateDecides() throws {
        #expect(try ChatTemplateFamily.resolve(name: nil, template: Self.llama3Template) == .recognized(.llama3))
    }

    @Test("an unknown name is an error that lists the valid names")
    func unknownName() {
        #expect(throws: ChatTemplateError.unknownName("llama-3", validNames: ChatTemplateFamily.allNames)) {
            try ChatTemplateFamily.resolve(name: "llama-3", template: Self.llama3Template)
        }
        let message = ChatTemplateError.unknownName("llama-3", validNames: ChatTemplateFamily.allNames).description
        #expect(message.contains("'llama-3'"))
        for name in ChatTemplateFamily.allNames {
            #expect(message.contains(name))
        }
    }

    @Test("a llama.cpp name Ponder does not render is an error that says so")
    func unsupportedName() {
        #expect(throws: ChatTemplateError.unsupportedName("phi3", validNames: ChatTemplateFamily.allNames)) {
            try ChatTemplateFamily.resolve(name: "phi3", template: nil)
        }
        let message = ChatTemplateError.unsupportedName("phi3", validNames: ChatTemplateFamily.allNames).description
        #expect(message.contains("'phi3'") && message.contains("does not render") && message.contains("smolvlm"))
    }

    @Test("no template falls back to ChatML with a warning")
    func noTemplate() {
        let detection = ChatTemplateFamily.detect(template: nil)
        #expect(detection.family == .chatml)
        let warning = detection.warning ?? ""
        #expect(warning.contains("no chat template") && warning.contains("ChatML"))
        #expect(!warning.contains("\n"))
    }

    @Test("an unknown template falls back to ChatML with a warning")
    func unknownTemplate() {
        let detection = ChatTemplateFamily.detect(template: "{{ messages | tojson }}")
        guard case .fellBackToChatML(let warning) = detection else {
            Issue.record("expected a fallback, got \(detection)")
            return
        }
        #expect(warning.contains("not one that llama.cpp recognizes") && warning.contains("ChatML"))
        #expect(warning.contains("--chat-template"))
    }

    @Test("a template of a format Ponder does not render falls back and names the format")
    func unsupportedTemplate() {
        let phi3 = "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}<|end|>\n{% endfor %}<|assistant|>\n"
        let detection = ChatTemplateFamily.detect(template: phi3)
        #expect(detection.family == .chatml)
        #expect(detection.warning?.contains("'phi3'") == true)
    }

    @Test("user turns carry one image marker per image, in front of the text")
    func userWithImages() {
        let message = ChatMessage.user("What is this?", images: 2)
        #expect(message.role == .user)
        #expect(message.content == "<__media__><__media__>What is this?")
        #expect(message.imageCount == 2)
        #expect(ChatMessage.user("Hi").content == "Hi")
        #expect(ChatMessage.user("Hi").imageCount == 0)
    }

    @Test("a rendered prompt splits into text and image segments")
    func promptSegments() {
        let prompt = ChatTemplateFamily.llama3.render(
            [.system("Be brief."), .user("Look:\n<__media__>\nand <__media__>")], addGenerationPrompt: true)
        #expect(PromptSegment.split(prompt) == [
            .text("<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nLook:\n"),
            .image,
            .text("\nand "),
            .image,
            .text("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
        ])
        #expect(PromptSegment.split("<__media__><__media__>") == [.image, .image])
        #expect(PromptSegment.split("<__media__") == [.text("<__media__")])
        #expect(PromptSegment.split("") == [])
    }

    @Test("trimming removes only the ASCII spaces C's isspace knows")
    func trimming() {
        #expect(ChatTemplateFamily.trimmed(" \t\n\u{0B}\u{0C}\r x y \r\n") == "x y")
        #expect(ChatTemplateFamily.trimmed("\u{A0}x\u{3000}") == "\u{A0}x\u{3000}")
        #expect(ChatTemplateFamily.trimmed("  \n ") == "")
        #expect(ChatTemplateFamily.trimmed("e\u{301} ") == "e\u{301}")
    }
}
