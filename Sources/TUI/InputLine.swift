/// The input line: readline-style editing over a string of characters, history, a kill ring
/// of one.
public struct InputLine: Sendable, Equatable {
    public var text = ""
    /// Cursor position in characters.
    public var cursor = 0
    public private(set) var history: [String] = []
    private var historyIndex: Int?
    private var draft = ""
    private var killed = ""

    public init() {}

    public var isEmpty: Bool { text.isEmpty }

    private func index(_ offset: Int) -> String.Index { text.index(text.startIndex, offsetBy: offset) }

    public mutating func insert(_ string: String) {
        let clean = String(string.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        text.insert(contentsOf: clean, at: index(cursor))
        cursor += clean.count
    }

    /// Applies an editing key; returns false when the key is not an editing key.
    public mutating func edit(_ key: Key) -> Bool {
        switch key {
        case .character(let character): insert(String(character))
        case .backspace, .control("h"):
            guard cursor > 0 else { return true }
            text.remove(at: index(cursor - 1)); cursor -= 1
        case .delete, .control("d"):
            guard cursor < text.count else { return true }
            text.remove(at: index(cursor))
        case .left, .control("b"): cursor = max(0, cursor - 1)
        case .right, .control("f"): cursor = min(text.count, cursor + 1)
        case .home, .control("a"): cursor = 0
        case .end, .control("e"): cursor = text.count
        case .control("k"):
            killed = String(text[index(cursor)...]); text.removeSubrange(index(cursor)...)
        case .control("u"):
            killed = String(text[..<index(cursor)]); text.removeSubrange(..<index(cursor)); cursor = 0
        case .control("w"):
            var start = cursor
            let characters = Array(text)
            while start > 0 && characters[start - 1] == " " { start -= 1 }
            while start > 0 && characters[start - 1] != " " { start -= 1 }
            killed = String(characters[start..<cursor])
            text.removeSubrange(index(start)..<index(cursor)); cursor = start
        case .control("y"): insert(killed)
        case .up, .control("p"): recall(-1)
        case .down, .control("n"): recall(1)
        default: return false
        }
        return true
    }

    private mutating func recall(_ step: Int) {
        guard !history.isEmpty else { return }
        if historyIndex == nil { draft = text }
        let next = (historyIndex ?? history.count) + step
        if next < 0 { return }
        if next >= history.count {
            historyIndex = nil
            text = draft
        } else {
            historyIndex = next
            text = history[next]
        }
        cursor = text.count
    }

    /// Takes the text for sending: clears the line and remembers it in the history.
    public mutating func take() -> String {
        let line = text
        if !line.isEmpty && history.last != line { history.append(line) }
        text = ""; cursor = 0; historyIndex = nil; draft = ""
        return line
    }
}
