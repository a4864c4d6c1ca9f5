/// Text broken into lines of at most `width` columns, at spaces where possible (a word longer
/// than a line is cut), with hard breaks at newlines.
///
/// Streaming text only grows, so `update` re-wraps only from the start of the last line: the
/// cost of a token is the length of one line, not of the whole stage.
public struct WrappedText: Sendable {
    public private(set) var width: Int
    public private(set) var lines: [String] = []
    /// How many UTF-8 bytes of the text the lines cover.
    private var consumed = 0
    /// The UTF-8 offset where the last line starts (it may still grow).
    private var lastLineStart = 0
    /// Whether the last line was ended by a newline (the next text starts a new line).
    private var endsWithBreak = false

    public init(width: Int) { self.width = max(1, width) }

    public init(_ text: String, width: Int) {
        self.init(width: width)
        update(text)
    }

    /// Brings the lines up to date with `text`, which usually extends the text seen before.
    public mutating func update(_ text: String, width newWidth: Int? = nil) {
        let newWidth = max(1, newWidth ?? width)
        let utf8 = text.utf8
        if newWidth != width || utf8.count < consumed {
            width = newWidth
            lines = []; consumed = 0; lastLineStart = 0; endsWithBreak = false
        }
        guard utf8.count != consumed || lines.isEmpty else { return }
        // Re-wrap from the start of the last (open) line.
        var start = lastLineStart
        if endsWithBreak { start = consumed } else if !lines.isEmpty { lines.removeLast() }
        let startIndex = utf8.index(utf8.startIndex, offsetBy: start)
        let tail = text[startIndex...]
        let (newLines, lastStart, broke) = Self.wrap(tail, width: width)
        lines.append(contentsOf: newLines)
        lastLineStart = start + lastStart
        endsWithBreak = broke
        consumed = utf8.count
        if lines.isEmpty { lines = [""] }
    }

    /// Wraps `text`; returns the lines, the UTF-8 offset (within `text`) of the last line, and
    /// whether the text ended with a newline.
    static func wrap(_ text: Substring, width: Int) -> ([String], Int, Bool) {
        var lines: [String] = []
        var line = ""
        var lineColumns = 0
        var lineStart = 0          // UTF-8 offset of `line` in text
        var offset = 0             // UTF-8 offset of the current character
        var lastSpace: (lineIndex: String.Index, offset: Int, columns: Int)?  // break after this space
        var endedWithBreak = false
        for character in text {
            let bytes = character.utf8.count
            defer { offset += bytes }
            if character.isNewline {
                lines.append(line)
                line = ""; lineColumns = 0; lastSpace = nil
                lineStart = offset + bytes
                endedWithBreak = true
                continue
            }
            endedWithBreak = false
            let columns = TextWidth.columns(of: character)
            if lineColumns + columns > width && lineColumns > 0 {
                if character == " " {
                    // A space at the edge ends the line and is dropped.
                    lines.append(line)
                    line = ""; lineColumns = 0; lastSpace = nil; lineStart = offset + bytes
                    continue
                }
                if let space = lastSpace {
                    let head = String(line[..<space.lineIndex])
                    let rest = String(line[line.index(after: space.lineIndex)...])
                    lines.append(head)
                    line = rest
                    lineColumns = lineColumns - space.columns - 1
                    lineStart = space.offset + 1
                } else {
                    lines.append(line)
                    line = ""; lineColumns = 0; lineStart = offset
                }
                lastSpace = nil
            }
            if character == " " { lastSpace = (line.endIndex, offset, lineColumns) }
            line.append(character)
            lineColumns += columns
        }
        if endedWithBreak { return (lines, lineStart, true) }
        lines.append(line)
        return (lines, lineStart, false)
    }
}
