// One turn of a conversation, and the image marker that a user turn carries where an
// image goes.

/// One message of a chat: who speaks, and what they say.
///
/// Content is kept byte for byte: the chat templates decide what is trimmed, exactly as
/// llama.cpp's `llm_chat_apply_template` does.
public struct ChatMessage: Sendable, Hashable {
    /// The speaker of a message, spelled as llama.cpp and the templates spell roles.
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case system
        case user
        case assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage {
        ChatMessage(role: .system, content: content)
    }

    /// A user turn. With `images > 0`, one image marker per image is put in front of the
    /// text, as llama.cpp's `llama-mtmd-cli` does for a single-turn prompt that has none.
    public static func user(_ content: String, images: Int = 0) -> ChatMessage {
        let markers = String(repeating: imageMarker, count: max(images, 0))
        return ChatMessage(role: .user, content: markers + content)
    }

    public static func assistant(_ content: String) -> ChatMessage {
        ChatMessage(role: .assistant, content: content)
    }

    /// The text that stands for an image in a rendered prompt: llama.cpp mtmd's default
    /// media marker (`mtmd_default_marker()`). After rendering, the prompt is split on it
    /// and each marker is replaced by the image's embeddings.
    public static let imageMarker = "<__media__>"

    /// How many image markers this message holds.
    public var imageCount: Int {
        PromptSegment.split(content).reduce(0) { count, segment in
            if case .image = segment { return count + 1 }
            return count
        }
    }
}

/// A piece of a rendered prompt: text to tokenize, or the place of the next image.
public enum PromptSegment: Sendable, Hashable {
    case text(String)
    case image

    /// Splits a rendered prompt on ``ChatMessage/imageMarker``, left to right, the way
    /// `llama-mtmd-cli` cuts its formatted chat before tokenizing. Empty text pieces
    /// between markers (or at either end) are left out. Matching is on UTF-8 bytes.
    public static func split(_ prompt: String) -> [PromptSegment] {
        let bytes = Array(prompt.utf8)
        let marker = Array(ChatMessage.imageMarker.utf8)
        var segments: [PromptSegment] = []
        var textStart = 0
        var index = 0
        func flushText(upTo end: Int) {
            if end > textStart {
                segments.append(.text(String(decoding: bytes[textStart..<end], as: UTF8.self)))
            }
        }
        while index + marker.count <= bytes.count {
            if bytes[index..<index + marker.count].elementsEqual(marker) {
                flushText(upTo: index)
                segments.append(.image)
                index += marker.count
                textStart = index
            } else {
                index += 1
            }
        }
        flushText(upTo: bytes.count)
        return segments
    }
}
