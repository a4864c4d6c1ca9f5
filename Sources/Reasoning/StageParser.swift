import Foundation

/// What the stage parser reports as text streams in.
public enum StageEvent: Sendable, Equatable {
    /// A stage began. A stage the model repeats is opened again; its text continues the stage.
    case opened(Stage)
    /// Text of the open stage (tags removed). Consecutive pieces may be split anywhere.
    case text(Stage, String)
    /// The open stage ended: at its closing tag, at another stage's tag, or at the end.
    case closed(Stage)
}

/// Turns a model's streamed text into stage events, incrementally.
///
/// - Tags are `<SUMMARY>`…`</SUMMARY>`, `<CAPTION>`, `<REASONING>`, `<CONCLUSION>`, matched
///   without regard to case and with spaces allowed inside the brackets (`< /Summary >`).
///   `<think>`…`</think>` (reasoning models) is the reasoning stage.
/// - A tag may arrive split across any number of pieces: text from a `<` on is held back
///   until it is a tag or can no longer become one.
/// - An opening tag while another stage is open closes that stage first; a closing tag of
///   any stage closes the open one; a closing tag with no stage open is dropped.
/// - Whitespace outside a stage is dropped. Other text outside a stage is taken as the
///   conclusion (a model that writes no tags answers in the conclusion only), until a tag says
///   otherwise.
/// - `finish()` flushes held text and closes the open stage, so every `opened` has its
///   `closed`.
public struct StageParser: Sendable {
    private var open: Stage?
    /// Text from a `<` that may still become a tag.
    private var pending = ""

    public init() {}

    /// The stage open right now, if any.
    public var currentStage: Stage? { open }

    /// Feeds the next piece of text and returns the events it completes.
    public mutating func feed(_ piece: String) -> [StageEvent] {
        var events: [StageEvent] = []
        var text = ""   // plain text gathered for the open (or implied) stage
        func flushText() {
            guard !text.isEmpty else { return }
            emitText(text, into: &events)
            text = ""
        }
        for character in piece {
            if pending.isEmpty {
                if character == "<" { pending = "<" } else { text.append(character) }
                continue
            }
            pending.append(character)
            switch Self.match(pending) {
            case .partial:
                continue
            case .tag(let stage, let closing):
                flushText()
                pending = ""
                apply(stage: stage, closing: closing, into: &events)
            case .none:
                // Not a tag: the `<` is text; rescan what followed it (it may hold a new `<`).
                let rest = pending.dropFirst()
                pending = ""
                text.append("<")
                for next in rest {
                    if pending.isEmpty {
                        if next == "<" { pending = "<" } else { text.append(next) }
                    } else {
                        pending.append(next)
                    }
                }
                if !pending.isEmpty, case .none = Self.match(pending) {
                    text += pending
                    pending = ""
                }
            }
        }
        flushText()
        return events
    }

    /// Ends the stream: held text goes out as text and the open stage is closed.
    public mutating func finish() -> [StageEvent] {
        var events: [StageEvent] = []
        if !pending.isEmpty {
            emitText(pending, into: &events)
            pending = ""
        }
        if let stage = open {
            events.append(.closed(stage))
            open = nil
        }
        return events
    }

    /// Parses a whole answer at once.
    public static func parse(_ text: String) -> [StageEvent] {
        var parser = StageParser()
        return parser.feed(text) + parser.finish()
    }

    /// The text of each stage of a whole answer (repeated stages joined), trimmed.
    public static func stages(of text: String) -> [Stage: String] {
        var result: [Stage: String] = [:]
        for event in parse(text) {
            if case .text(let stage, let piece) = event { result[stage, default: ""] += piece }
        }
        return result.mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    // MARK: Internals

    private mutating func emitText(_ text: String, into events: inout [StageEvent]) {
        if let stage = open {
            events.append(.text(stage, text))
            return
        }
        // Outside any stage: whitespace is dropped; anything else starts the conclusion.
        guard let start = text.firstIndex(where: { !$0.isWhitespace }) else { return }
        open = .conclusion
        events.append(.opened(.conclusion))
        events.append(.text(.conclusion, String(text[start...])))
    }

    private mutating func apply(stage: Stage, closing: Bool, into events: inout [StageEvent]) {
        if closing {
            if let current = open {
                events.append(.closed(current))
                open = nil
            }
            return
        }
        if let current = open { events.append(.closed(current)) }
        open = stage
        events.append(.opened(stage))
    }

    enum Match: Equatable {
        case partial
        case tag(Stage, closing: Bool)
        case none
    }

    static let names: [(String, Stage)] = Stage.allCases.map { ($0.rawValue, $0) } + [("think", .reasoning)]

    /// Whether `candidate` (starting with `<`) is a whole tag, the start of one, or neither.
    static func match(_ candidate: String) -> Match {
        var characters = Array(candidate.lowercased().dropFirst())
        // Longest tag: "</ conclusion >" with a little room for spaces.
        if characters.count > 24 { return .none }
        func skipSpaces() { while let first = characters.first, first == " " { characters.removeFirst() } }
        skipSpaces()
        var closing = false
        if characters.first == "/" {
            closing = true
            characters.removeFirst()
            skipSpaces()
        }
        var name = ""
        while let first = characters.first, first.isLetter {
            name.append(first)
            characters.removeFirst()
        }
        let candidates = names.filter { $0.0.hasPrefix(name) }
        if candidates.isEmpty { return .none }
        skipSpaces()
        guard let next = characters.first else { return .partial }
        guard next == ">", characters.count == 1, let exact = names.first(where: { $0.0 == name }) else { return .none }
        return .tag(exact.1, closing: closing)
    }
}
