// Choosing a chat-template family from a model's Jinja template, the way llama.cpp's
// `llm_chat_detect_template` chooses one: by looking for telltale substrings, in a fixed
// order where the first match wins.

extension ChatTemplateFamily {
    /// The family for a model's `tokenizer.chat_template`, or ChatML with a warning.
    ///
    /// The template is classified as llama.cpp classifies it (same substrings, same
    /// order). When llama.cpp would not recognize it, or would recognize a format that
    /// Ponder does not render, or there is no template at all, the result falls back to
    /// ChatML and carries one sentence for the user (the CLI prints it to stderr).
    public static func detect(template: String?) -> ChatTemplateDetection {
        guard let template else {
            return .fellBackToChatML(warning:
                "The model has no chat template (tokenizer.chat_template); using ChatML. "
                + "Pass --chat-template NAME to choose one of: \(allNames.joined(separator: ", ")).")
        }
        guard let name = llamaCppClassification(of: template) else {
            return .fellBackToChatML(warning:
                "The model's chat template is not one that llama.cpp recognizes; using ChatML. "
                + "Pass --chat-template NAME to choose one of: \(allNames.joined(separator: ", ")).")
        }
        guard let family = ChatTemplateFamily(name: name) else {
            return .fellBackToChatML(warning:
                "The model's chat template is llama.cpp's '\(name)' format, which Ponder does not render; "
                + "using ChatML. Pass --chat-template NAME to choose one of: "
                + "\(allNames.joined(separator: ", ")).")
        }
        return .recognized(family)
    }

    /// The family to use, given the `--chat-template` value (if any) and the model's
    /// template (if any). A name, when given, wins over the template; a name Ponder
    /// does not know is an error that lists the valid names.
    public static func resolve(
        name: String?, template: String?
    ) throws(ChatTemplateError) -> ChatTemplateDetection {
        guard let name else { return detect(template: template) }
        if let family = ChatTemplateFamily(name: name) { return .recognized(family) }
        if isLlamaCppName(name) { throw .unsupportedName(name, validNames: allNames) }
        throw .unknownName(name, validNames: allNames)
    }

    /// llama.cpp's name for the format of `template`, or nil where llama.cpp would find
    /// none. Names the formats Ponder does not render too; one llama.cpp detects but
    /// cannot be asked for by name is called `dots1`.
    static func llamaCppClassification(of template: String) -> String? {
        if isLlamaCppName(template) { return template }
        let text = TemplateText(template)
        return detectionRules.first { $0.matches(text) }?.name
    }

    /// llama.cpp's checks, in its order. Within the `[INST]` group the more specific
    /// Mistral formats come before the Llama 2 variants.
    private static let detectionRules: [DetectionRule] = {
        let inst: @Sendable (TemplateText) -> Bool = { $0.hasPrefix("mistral") || $0.has("[INST]") }
        let officialMistral: @Sendable (TemplateText) -> Bool = {
            inst($0) && ($0.has("' [INST] ' + system_message") || $0.has("[AVAILABLE_TOOLS]"))
        }
        let userAssistant: @Sendable (TemplateText) -> Bool = { $0.hasAll("<|assistant|>", "<|user|>") }
        return [
            DetectionRule("phi4") { $0.hasAll("<|im_start|>", "<|im_sep|>") },
            DetectionRule("smolvlm") { $0.hasAll("<|im_start|>", "<end_of_utterance>") },
            DetectionRule("chatml") { $0.has("<|im_start|>") },
            DetectionRule("mistral-v7") { inst($0) && $0.has("[SYSTEM_PROMPT]") },
            DetectionRule("mistral-v1") { officialMistral($0) && $0.has(" [INST]") },
            DetectionRule("mistral-v3-tekken") { officialMistral($0) && $0.has("\"[INST]\"") },
            DetectionRule("mistral-v3") { officialMistral($0) },
            DetectionRule("llama2-sys-strip") { inst($0) && $0.has("content.strip()") },
            DetectionRule("llama2-sys-bos") { inst($0) && $0.has("bos_token + '[INST]") },
            DetectionRule("llama2-sys") { inst($0) && $0.has("<<SYS>>") },
            DetectionRule("llama2") { inst($0) },
            DetectionRule("phi3") { $0.hasAll("<|assistant|>", "<|end|>") },
            DetectionRule("chatglm4") { $0.has("[gMASK]<sop>") },
            DetectionRule("exaone-moe") { userAssistant($0) && $0.has("<|tool_declare|>") },
            DetectionRule("falcon3") { userAssistant($0) && $0.has("</s>") },
            DetectionRule("glmedge") { userAssistant($0) },
            DetectionRule("glmedge") { $0.hasAll("<|{{ item['role'] }}|>", "<|begin_of_image|>") },
            DetectionRule("zephyr") { $0.hasAll("<|user|>", "<|endoftext|>") },
            DetectionRule("monarch") { $0.has("bos_token + message['role']") },
            DetectionRule("gemma") { $0.has("<start_of_turn>") },
            DetectionRule("orion") { $0.has("'\\n\\nAssistant: ' + eos_token") },
            DetectionRule("openchat") { $0.has("GPT4 Correct ") },
            DetectionRule("vicuna-orca") { $0.hasAll("USER: ", "ASSISTANT: ", "SYSTEM: ") },
            DetectionRule("vicuna") { $0.hasAll("USER: ", "ASSISTANT: ") },
            DetectionRule("deepseek") { $0.hasAll("### Instruction:", "<|EOT|>") },
            DetectionRule("command-r") { $0.hasAll("<|START_OF_TURN_TOKEN|>", "<|USER_TOKEN|>") },
            DetectionRule("llama3") { $0.hasAll("<|start_header_id|>", "<|end_header_id|>") },
            DetectionRule("chatglm3") { $0.has("[gMASK]sop") },
            DetectionRule("minicpm") { $0.has("<用户>") },
            DetectionRule("deepseek2") { $0.has("'Assistant: ' + message['content'] + eos_token") },
            DetectionRule("deepseek3") {
                $0.hasAll("<｜Assistant｜>", "<｜User｜>", "<｜end▁of▁sentence｜>")
            },
            DetectionRule("exaone4") { $0.hasAll("[|system|]", "[|assistant|]", "[|endofturn|]", "[|tool|]") },
            DetectionRule("exaone3") { $0.hasAll("[|system|]", "[|assistant|]", "[|endofturn|]") },
            DetectionRule("rwkv-world") {
                $0.has("rwkv-world") || $0.has("{{- 'User: ' + message['content']|trim + '\\n\\n' -}}")
            },
            DetectionRule("granite-4.0") {
                $0.has("<|start_of_role|>") && ($0.has("<tool_call>") || $0.has("<tools>"))
                    && $0.has("g4_default_system_message")
            },
            DetectionRule("granite-4.1") {
                $0.has("<|start_of_role|>") && ($0.has("<tool_call>") || $0.has("<tools>"))
            },
            DetectionRule("granite") { $0.has("<|start_of_role|>") },
            DetectionRule("gigachat") {
                $0.has("message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]")
            },
            DetectionRule("megrez") { $0.has("<|role_start|>") },
            DetectionRule("yandex") { $0.has(" Ассистент:") },
            DetectionRule("bailing") { $0.hasAll("<role>ASSISTANT</role>", "'HUMAN'") },
            DetectionRule("bailing-think") { $0.hasAll("<role>ASSISTANT</role>", "\"HUMAN\"", "<think>") },
            DetectionRule("bailing2") { $0.hasAll("<role>ASSISTANT</role>", "<role>HUMAN</role>", "<|role_end|>") },
            DetectionRule("llama4") { $0.hasAll("<|header_start|>", "<|header_end|>") },
            DetectionRule("dots1") { $0.has("<|endofuserprompt|>") },
            DetectionRule("hunyuan-moe") { $0.hasAll("<|extra_0|>", "<|extra_4|>") },
            DetectionRule("gpt-oss") { $0.hasAll("<|start|>", "<|channel|>") },
            DetectionRule("hunyuan-vl") { $0.hasAll("<｜hy_Assistant｜>", "<｜hy_begin▁of▁sentence｜>") },
            DetectionRule("hunyuan-dense") { $0.hasAll("<｜hy_Assistant｜>", "<｜hy_place▁holder▁no▁3｜>") },
            DetectionRule("kimi-k2") { $0.has("<|im_assistant|>assistant<|im_middle|>") },
            DetectionRule("seed_oss") { $0.has("<seed:bos>") },
            DetectionRule("grok-2") { $0.has("'Assistant: '  + message['content'] + '<|separator|>") },
            DetectionRule("pangu-embedded") { $0.has("[unused9]系统：[unused10]") },
            DetectionRule("solar-open") { $0.hasAll("<|begin|>", "<|end|>", "<|content|>") },
        ]
    }()
}

/// One check of the detection order: the llama.cpp name it yields, and its test.
private struct DetectionRule: Sendable {
    let name: String
    let matches: @Sendable (TemplateText) -> Bool

    init(_ name: String, _ matches: @escaping @Sendable (TemplateText) -> Bool) {
        self.name = name
        self.matches = matches
    }
}

/// A template's UTF-8 bytes, searched byte by byte as `std::string::find` searches, so
/// that grapheme clustering and Unicode equivalence never change a match.
private struct TemplateText: Sendable {
    let bytes: [UInt8]

    init(_ text: String) { bytes = Array(text.utf8) }

    func hasPrefix(_ prefix: String) -> Bool {
        bytes.starts(with: prefix.utf8)
    }

    func has(_ needle: String) -> Bool {
        let needle = Array(needle.utf8)
        guard !needle.isEmpty else { return true }
        guard needle.count <= bytes.count else { return false }
        let first = needle[0]
        var start = 0
        while start + needle.count <= bytes.count {
            if bytes[start] == first, bytes[start..<start + needle.count].elementsEqual(needle) {
                return true
            }
            start += 1
        }
        return false
    }

    func hasAll(_ needles: String...) -> Bool {
        needles.allSatisfy(has)
    }
}
