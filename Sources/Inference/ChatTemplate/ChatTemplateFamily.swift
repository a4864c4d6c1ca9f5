// The chat-template families Ponder renders, named as llama.cpp names them.

/// A chat format that Ponder can render without a Jinja engine.
///
/// Each raw value is llama.cpp's name for the same format (the keys of its built-in
/// template table in `src/llama-chat.cpp`), so `--chat-template NAME` takes the names
/// llama.cpp's `--chat-template` takes for these formats, and a rendered prompt equals
/// what llama.cpp's `llm_chat_apply_template` produces for it.
public enum ChatTemplateFamily: String, Sendable, Hashable, CaseIterable {
    /// `<|im_start|>role\n…<|im_end|>\n` (Qwen, OpenHermes, SmolLM, …).
    case chatml = "chatml"
    /// Llama 2 without system support: a system message is written as plain text
    /// before the first user message.
    case llama2 = "llama2"
    /// Llama 2 with the system message inside `<<SYS>>…<</SYS>>`.
    case llama2System = "llama2-sys"
    /// As ``llama2System``, with `<s>` written before every later `[INST]`.
    case llama2SystemBOS = "llama2-sys-bos"
    /// As ``llama2System``, with every message trimmed of surrounding whitespace.
    case llama2SystemStrip = "llama2-sys-strip"
    /// Mistral's official "v1" format: ` [INST] … [/INST] answer</s>`.
    case mistralV1 = "mistral-v1"
    /// Mistral "v3": `[INST] …[/INST] answer</s>`, assistant messages trimmed.
    case mistralV3 = "mistral-v3"
    /// Mistral "v3-tekken": `[INST]…[/INST]answer</s>`.
    case mistralV3Tekken = "mistral-v3-tekken"
    /// Mistral "v7": `[SYSTEM_PROMPT] …[/SYSTEM_PROMPT][INST] …[/INST] answer</s>`.
    case mistralV7 = "mistral-v7"
    /// Mistral "v7-tekken": as ``mistralV7`` without the spaces after the tags.
    /// llama.cpp never detects it from a template; it is chosen by name.
    case mistralV7Tekken = "mistral-v7-tekken"
    /// Llama 3: `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`.
    case llama3 = "llama3"
    /// Gemma: `<start_of_turn>user\n…<end_of_turn>\n`; the assistant is `model`, and
    /// the system message is merged into the next user turn.
    case gemma = "gemma"
    /// SmolVLM: `<|im_start|>User: …<end_of_utterance>\nAssistant:`.
    case smolvlm = "smolvlm"

    /// llama.cpp's name for this format.
    public var name: String { rawValue }

    /// The family llama.cpp calls `name`, or nil when Ponder has no such family.
    /// Names are matched exactly (case and all), as llama.cpp matches them.
    public init?(name: String) {
        guard let family = Self.allCases.first(where: { Array($0.rawValue.utf8) == Array(name.utf8) }) else {
            return nil
        }
        self = family
    }

    /// Every name ``init(name:)`` accepts, sorted, for help text and error messages.
    public static var allNames: [String] {
        allCases.map(\.rawValue).sorted()
    }

    /// The family used when a model's template is unknown or absent.
    public static let fallback: ChatTemplateFamily = .chatml

    /// True for a name in llama.cpp's built-in template table.
    static func isLlamaCppName(_ name: String) -> Bool {
        llamaCppNames.contains { Array($0.utf8) == Array(name.utf8) }
    }

    /// The names of llama.cpp's built-in chat templates (`llama_chat_builtin_templates`),
    /// including the many that Ponder does not render.
    static let llamaCppNames: [String] = [
        "bailing", "bailing-think", "bailing2", "chatglm3", "chatglm4", "chatml", "command-r",
        "deepseek", "deepseek-ocr", "deepseek2", "deepseek3", "exaone-moe", "exaone3",
        "exaone4", "falcon3", "gemma", "gigachat", "glmedge", "gpt-oss", "granite",
        "granite-4.0", "granite-4.1", "grok-2", "hunyuan-dense", "hunyuan-moe",
        "hunyuan-vl", "kimi-k2", "llama2", "llama2-sys", "llama2-sys-bos",
        "llama2-sys-strip", "llama3", "llama4", "megrez", "minicpm", "mistral-v1",
        "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "monarch",
        "openchat", "orion", "pangu-embedded", "phi3", "phi4", "rwkv-world", "seed_oss",
        "smolvlm", "solar-open", "vicuna", "vicuna-orca", "yandex", "zephyr",
    ]
}

extension ChatTemplateFamily: CustomStringConvertible {
    public var description: String { rawValue }
}
