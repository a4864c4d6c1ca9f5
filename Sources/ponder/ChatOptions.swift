import ArgumentParser
import Foundation
import GGUF
import Inference

/// `--chat`, `--chat-template` and `--system`, shared by the commands that can wrap their text
/// in the model's chat template.
struct ChatOptions: ParsableArguments {
    @Flag(help: "Wrap the text as a user turn in the model's chat template, with the assistant prompt; special-token text is then parsed.")
    var chat = false

    @Option(help: ArgumentHelp(
        "Use this chat-template family instead of the model's (implies --chat): "
            + ChatTemplateFamily.allNames.joined(separator: ", ") + ".",
        valueName: "name"))
    var chatTemplate: String?

    @Option(help: "A system message to put before the user turn (implies --chat).")
    var system: String?

    var isEnabled: Bool { chat || chatTemplate != nil || system != nil }

    /// The text to tokenize: `text` itself, or with --chat the rendered conversation. A
    /// template that falls back to ChatML prints its warning to stderr.
    func prompt(for text: String, file: GGUFFile) throws -> String {
        guard isEnabled else { return text }
        var messages: [ChatMessage] = []
        if let system { messages.append(.system(system)) }
        messages.append(.user(text))
        return try Self.render(messages, chatTemplate: chatTemplate, file: file)
    }

    /// `messages` in the model's chat template (or the named family), with the assistant
    /// prompt. A template that falls back to ChatML prints its warning to stderr.
    static func render(_ messages: [ChatMessage], chatTemplate: String?, file: GGUFFile, quiet: Bool = false) throws -> String {
        do {
            let detection = try ChatTemplateFamily.resolve(
                name: chatTemplate, template: file.optionalString("tokenizer.chat_template"))
            if let warning = detection.warning, !quiet {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
            return detection.family.render(messages, addGenerationPrompt: true)
        } catch {
            throw CommandFailure(error)
        }
    }
}
