// The outcome of choosing a chat-template family for a model.

/// Which family a model's prompts are rendered with, and why.
public enum ChatTemplateDetection: Sendable, Hashable {
    /// The model's template (or the `--chat-template` name) is a family Ponder renders.
    case recognized(ChatTemplateFamily)
    /// The template is absent, unknown, or a format Ponder does not render: ChatML is
    /// used, and `warning` is one sentence to show the user.
    case fellBackToChatML(warning: String)

    /// The family to render with.
    public var family: ChatTemplateFamily {
        switch self {
        case .recognized(let family): family
        case .fellBackToChatML: ChatTemplateFamily.fallback
        }
    }

    /// The sentence to print to stderr, or nil when nothing needs saying.
    public var warning: String? {
        switch self {
        case .recognized: nil
        case .fellBackToChatML(let warning): warning
        }
    }
}

/// A `--chat-template` value that names no family Ponder renders.
public enum ChatTemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A name that neither Ponder nor llama.cpp knows.
    case unknownName(String, validNames: [String])
    /// A llama.cpp template name for a format Ponder does not render.
    case unsupportedName(String, validNames: [String])

    public var description: String {
        switch self {
        case .unknownName(let name, let validNames):
            "Unknown chat template '\(name)'; valid names are: \(validNames.joined(separator: ", "))."
        case .unsupportedName(let name, let validNames):
            "Chat template '\(name)' is a llama.cpp format that Ponder does not render; "
                + "valid names are: \(validNames.joined(separator: ", "))."
        }
    }
}
