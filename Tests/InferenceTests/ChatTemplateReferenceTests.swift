// Rendering and detection compared with llama.cpp, byte for byte.

import Testing
@testable import Inference

@Suite("Chat templates against llama.cpp")
struct ChatTemplateReferenceTests {
    static let references = ChatTemplateReferences.shared

    @Test("the fixture covers every family and conversation")
    func fixtureCoversEveryFamily() {
        let references = Self.references
        #expect(Set(references.renders.map(\.family)) == Set(ChatTemplateFamily.allNames))
        #expect(references.conversations.count >= 8)
        #expect(references.renders.count
                == ChatTemplateFamily.allCases.count * references.conversations.count * 2)
        let detected = Set(references.templates.compactMap(\.detected))
        // Each family is found from at least one template string.
        for name in ChatTemplateFamily.allNames {
            #expect(detected.contains(name), "no template in the fixture is detected as \(name)")
        }
    }

    @Test("renders exactly as llama_chat_apply_template", arguments: references.renders)
    func render(_ reference: ChatTemplateReferences.Render) throws {
        let family = try #require(ChatTemplateFamily(name: reference.family))
        let messages = try #require(Self.references.messages(of: reference.conversation))
        let prompt = family.render(messages, addGenerationPrompt: reference.addAssistant)
        // Compare bytes: String's == treats canonically equivalent text as equal.
        #expect(Array(prompt.utf8) == Array(reference.output.utf8),
                "\(reference)\n got: \(prompt.debugDescription)\nwant: \(reference.output.debugDescription)")
    }

    @Test("classifies templates as llama_chat_apply_template does", arguments: references.templates)
    func classify(_ reference: ChatTemplateReferences.Template) {
        let name = ChatTemplateFamily.llamaCppClassification(of: reference.template)
        if reference.detected == nil {
            #expect(name == nil)
        } else {
            #expect(name.map(reference.candidates.contains) == true,
                    "llama.cpp: \(reference.detected ?? "none"), Ponder: \(name ?? "none")")
        }
    }

    @Test("detects the family, or falls back to ChatML with a warning", arguments: references.templates)
    func detect(_ reference: ChatTemplateReferences.Template) {
        let detection = ChatTemplateFamily.detect(template: reference.template)
        let expected = reference.detected.flatMap(ChatTemplateFamily.init(name:))
        if let expected {
            #expect(detection == .recognized(expected))
            #expect(detection.warning == nil)
        } else {
            #expect(detection.family == .chatml)
            #expect(detection.warning?.contains("ChatML") == true)
        }
    }

    @Test("a detected template renders as llama.cpp renders that template string",
          arguments: references.templates.filter { $0.detected.flatMap(ChatTemplateFamily.init(name:)) != nil })
    func renderDetected(_ reference: ChatTemplateReferences.Template) throws {
        // llama.cpp renders a template string through its detected family, so the
        // fixture's renders for that family are what the template string gives too.
        let family = ChatTemplateFamily.detect(template: reference.template).family
        for render in Self.references.renders where render.family == reference.detected {
            let messages = try #require(Self.references.messages(of: render.conversation))
            let prompt = family.render(messages, addGenerationPrompt: render.addAssistant)
            #expect(Array(prompt.utf8) == Array(render.output.utf8), "\(render)")
        }
    }

    @Test("llama.cpp's built-in names are the ones Ponder knows of")
    func builtinNames() {
        #expect(ChatTemplateFamily.llamaCppNames.sorted() == Self.references.builtinNames.sorted())
        for name in ChatTemplateFamily.allNames {
            #expect(Self.references.builtinNames.contains(name))
        }
    }

    @Test("the image marker is mtmd's default media marker")
    func imageMarker() {
        #expect(ChatMessage.imageMarker == Self.references.imageMarker)
    }
}
