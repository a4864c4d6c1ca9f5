// Loads the llama.cpp references written by Scripts/make_chat_template_fixtures.py.

import Foundation
import Inference

/// The contents of Fixtures/chat_templates/references.json.
struct ChatTemplateReferences: Decodable, Sendable {
    struct Conversation: Decodable, Sendable {
        let id: String
        /// `[role, content]` pairs.
        let messages: [[String]]
    }

    /// One prompt as llama.cpp renders it for a family, selected by its name.
    struct Render: Decodable, Sendable, CustomStringConvertible {
        let family: String
        let conversation: String
        let addAssistant: Bool
        let output: String

        enum CodingKeys: String, CodingKey {
            case family, conversation, output
            case addAssistant = "add_ass"
        }

        var description: String { "\(family) \(conversation) add_ass=\(addAssistant)" }
    }

    /// A template string and the llama.cpp family name it is rendered as: nil where
    /// llama.cpp rejects it, several names joined by "|" where the renders could not
    /// tell them apart (only for families Ponder does not render).
    struct Template: Decodable, Sendable, CustomStringConvertible {
        let source: String
        let template: String
        let detected: String?

        var candidates: [String] { detected?.split(separator: "|").map(String.init) ?? [] }
        var description: String { source }
    }

    let imageMarker: String
    let builtinNames: [String]
    let conversations: [Conversation]
    let renders: [Render]
    let templates: [Template]

    enum CodingKeys: String, CodingKey {
        case conversations, renders, templates
        case imageMarker = "image_marker"
        case builtinNames = "builtin_names"
    }

    static let shared: ChatTemplateReferences = {
        do {
            guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
                throw CocoaError(.fileNoSuchFile)
            }
            let url = folder.appendingPathComponent("chat_templates/references.json")
            return try JSONDecoder().decode(ChatTemplateReferences.self, from: Data(contentsOf: url))
        } catch {
            // An empty set makes the count checks below fail loudly instead of passing.
            print("could not load chat template references: \(error)")
            return ChatTemplateReferences(imageMarker: "", builtinNames: [], conversations: [],
                                          renders: [], templates: [])
        }
    }()

    func messages(of conversationID: String) -> [ChatMessage]? {
        guard let conversation = conversations.first(where: { $0.id == conversationID }) else { return nil }
        var messages: [ChatMessage] = []
        for pair in conversation.messages {
            guard pair.count == 2, let role = ChatMessage.Role(rawValue: pair[0]) else { return nil }
            messages.append(ChatMessage(role: role, content: pair[1]))
        }
        return messages
    }
}
