// Turning a conversation into the prompt text of one family, byte for byte as llama.cpp's
// `llm_chat_apply_template` writes it (its built-in formats, not a Jinja engine).

extension ChatTemplateFamily {
    /// The prompt for `messages` in this family's format.
    ///
    /// - Parameter addGenerationPrompt: end with the opening of an assistant turn
    ///   (llama.cpp's `add_ass`). The Llama 2 and Mistral formats have no such opening,
    ///   so for them the flag changes nothing, as in llama.cpp.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var prompt = ""
        switch self {
        case .chatml:
            for message in messages {
                prompt += "<|im_start|>\(message.role.rawValue)\n\(message.content)<|im_end|>\n"
            }
            if addGenerationPrompt { prompt += "<|im_start|>assistant\n" }

        case .llama3:
            for message in messages {
                prompt += "<|start_header_id|>\(message.role.rawValue)<|end_header_id|>\n\n"
                prompt += Self.trimmed(message.content) + "<|eot_id|>"
            }
            if addGenerationPrompt { prompt += "<|start_header_id|>assistant<|end_header_id|>\n\n" }

        case .gemma:
            renderGemma(messages, into: &prompt)
            if addGenerationPrompt { prompt += "<start_of_turn>model\n" }

        case .smolvlm:
            // The <|im_start|> here is SmolVLM's BOS; the turns themselves are not ChatML.
            prompt += "<|im_start|>"
            for message in messages {
                switch message.role {
                case .system: prompt += message.content + "\n\n"
                case .user: prompt += "User: " + message.content + "<end_of_utterance>\n"
                case .assistant: prompt += "Assistant: " + message.content + "<end_of_utterance>\n"
                }
            }
            if addGenerationPrompt { prompt += "Assistant:" }

        case .llama2, .llama2System, .llama2SystemBOS, .llama2SystemStrip:
            renderLlama2(messages, into: &prompt)

        case .mistralV1, .mistralV3, .mistralV3Tekken:
            renderMistralV1V3(messages, into: &prompt)

        case .mistralV7, .mistralV7Tekken:
            let space = self == .mistralV7 ? " " : ""
            for message in messages {
                switch message.role {
                case .system: prompt += "[SYSTEM_PROMPT]" + space + message.content + "[/SYSTEM_PROMPT]"
                case .user: prompt += "[INST]" + space + message.content + "[/INST]"
                case .assistant: prompt += space + message.content + "</s>"
                }
            }
        }
        return prompt
    }

    /// Gemma has no system role: system text (trimmed, run together) is held back and
    /// put at the top of the next user turn. Every message is trimmed.
    private func renderGemma(_ messages: [ChatMessage], into prompt: inout String) {
        var pendingSystem = ""
        for message in messages {
            let role: String
            switch message.role {
            case .system:
                pendingSystem += Self.trimmed(message.content)
                continue
            case .user: role = "user"
            case .assistant: role = "model"
            }
            prompt += "<start_of_turn>\(role)\n"
            if message.role == .user, !pendingSystem.isEmpty {
                prompt += pendingSystem + "\n\n"
                pendingSystem = ""
            }
            prompt += Self.trimmed(message.content) + "<end_of_turn>\n"
        }
    }

    /// `[INST] … [/INST]answer</s>`; the opening `[INST] ` of the first turn is written
    /// up front (the BOS before it is the tokenizer's job), later ones after each answer.
    private func renderLlama2(_ messages: [ChatMessage], into prompt: inout String) {
        let systemInTags = self != .llama2
        let bosBeforeLaterTurns = self == .llama2SystemBOS
        let trimsMessages = self == .llama2SystemStrip
        var turnIsOpen = true
        prompt += "[INST] "
        for message in messages {
            let content = trimsMessages ? Self.trimmed(message.content) : message.content
            if !turnIsOpen {
                prompt += bosBeforeLaterTurns ? "<s>[INST] " : "[INST] "
                turnIsOpen = true
            }
            switch message.role {
            case .system:
                prompt += systemInTags ? "<<SYS>>\n\(content)\n<</SYS>>\n\n" : content + "\n"
            case .user:
                prompt += content + " [/INST]"
            case .assistant:
                prompt += content + "</s>"
                turnIsOpen = false
            }
        }
    }

    /// Mistral's v1, v3 and v3-tekken: they differ only in the spaces around the tags
    /// and in whether answers are trimmed. A system message opens the turn like a user
    /// message and is followed by a blank line.
    private func renderMistralV1V3(_ messages: [ChatMessage], into prompt: inout String) {
        let before = self == .mistralV1 ? " " : ""
        let after = self == .mistralV3Tekken ? "" : " "
        var turnIsOpen = false
        for message in messages {
            if !turnIsOpen {
                prompt += before + "[INST]" + after
                turnIsOpen = true
            }
            switch message.role {
            case .system:
                prompt += message.content + "\n\n"
            case .user:
                prompt += message.content + before + "[/INST]"
            case .assistant:
                let answer = self == .mistralV3 ? Self.trimmed(message.content) : message.content
                prompt += after + answer + "</s>"
                turnIsOpen = false
            }
        }
    }

    /// `text` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r),
    /// the set C's `isspace` accepts. Other Unicode spaces stay. Works on UTF-8 bytes, so
    /// "\r\n" and combining marks are handled as llama.cpp handles them.
    static func trimmed(_ text: String) -> String {
        let bytes = text.utf8
        func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || (0x09...0x0D).contains(byte)
        }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }),
              let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
