/// A candidate's text wrapped for the compare view, with a flag per character of each line:
/// true where it differs from the candidate it is compared with.
struct MarkedLines: Sendable {
    /// The text, the reference, the width and whether brackets were written: what the lines
    /// were made from.
    var inputs: [String]
    var lines: [String]
    var marks: [[Bool]]
}

extension View {
    /// Draws every candidate of stage `index` of the last turn, side by side (or stacked when
    /// narrow). Each candidate other than the reference (the chosen one; during a manual pick,
    /// the selected one) shows the words where it differs from the reference in the theme's
    /// `diff` style; under `NO_COLOR` those words are also wrapped in `[` `]`, so the marks
    /// survive without colour. A candidate cut at another stage's tag says so under its head:
    /// `✂ cut at </SUMMARY>`, or `(cut at </SUMMARY>)` under `NO_COLOR`.
    func drawCompare(_ state: AppState, stage index: Int, selected: Int, manual: Bool, in rect: Rect,
                     into buffer: inout CellBuffer) {
        let theme = state.theme
        guard let stage = state.lastBranch?.stages[index], rect.height >= 3 else { return }
        let count = stage.candidates.count
        let judge = manual ? "you pick" : "judge: \(stage.by == "user" ? "you" : state.settings.judge)"
        buffer.put("\(stage.name.title) · \(count) candidates · \(judge)", x: rect.x, y: rect.y,
                   style: theme.header(stage.name), limit: rect.maxX)
        let hint = manual ? "1–\(min(9, count)) or ←/→ Enter: pick · Esc: stop"
                          : "1–\(min(9, count)) or ←/→ Enter: take it (later stages regenerate) · Esc: close"
        buffer.put(hint, x: rect.x, y: rect.y + 1, style: theme.dimmed, limit: rect.maxX)
        guard count > 0 else { return }
        let area = Rect(x: rect.x, y: rect.y + 2, width: rect.width, height: rect.height - 2)
        let sideBySide = (area.width - (count - 1)) / count >= 24
        let reference = stage.chosen ?? selected
        let brackets = state.colors == .none
        for candidate in 0..<count {
            let box: Rect
            if sideBySide {
                let width = (area.width - (count - 1)) / count
                box = Rect(x: area.x + candidate * (width + 1), y: area.y, width: width, height: area.height)
                if candidate > 0 {
                    for y in box.y..<box.maxY { buffer.put("│", x: box.x - 1, y: y, style: theme.borderStyle) }
                }
            } else {
                let height = max(2, area.height / count)
                box = Rect(x: area.x, y: area.y + candidate * height, width: area.width, height: height)
                if box.y >= area.maxY { break }
            }
            let data = stage.candidates[candidate]
            var head = (candidate == selected ? "▶ " : "  ") + "\(candidate + 1)"
            if stage.chosen == candidate { head += " ★" }
            if candidate < stage.scores.count { head += String(format: " · score %.2f", stage.scores[candidate]) }
            head += " · \(data.tokens) tok"
            let style = candidate == selected ? theme.selection : theme.accentStyle
            buffer.fill(Rect(x: box.x, y: box.y, width: box.width, height: 1), with: Cell(" ", style: style))
            buffer.put(head, x: box.x, y: box.y, style: style, limit: box.maxX)
            let bottom = min(box.maxY, area.maxY)
            var top = box.y + 1
            if let cut = data.cutAt, top < bottom {
                buffer.put(brackets ? "(cut at \(cut))" : "✂ cut at \(cut)", x: box.x, y: top, style: theme.errorStyle,
                           limit: box.maxX)
                top += 1
            }
            let key = TextKey.compare(stage: index, candidate: candidate)
            let text = data.text.trimmingLeadingNewlines
            let width = max(1, sideBySide ? box.width - 1 : box.width)
            let lines: [String]
            var marks: [[Bool]] = []
            if candidate != reference, stage.candidates.indices.contains(reference) {
                let marked = markedLines(key, text, reference: stage.candidates[reference].text.trimmingLeadingNewlines,
                                         width: width, brackets: brackets)
                lines = marked.lines
                marks = marked.marks
            } else {
                lines = wrapped(key, text, width: width)
            }
            let room = bottom - top
            let body = theme.body(stage.name)
            for (row, line) in lines.prefix(max(0, room)).enumerated() {
                if row == room - 1 && lines.count > room {
                    buffer.put("…", x: box.x, y: top + row, style: body, limit: box.maxX)
                } else {
                    Self.put(line, marks: row < marks.count ? marks[row] : [], x: box.x, y: top + row, style: body,
                             highlight: theme.diffStyle, limit: box.maxX, into: &buffer)
                }
            }
        }
    }

    /// Writes `line` with the characters flagged in `marks` in `highlight`, the rest in `style`.
    static func put(_ line: String, marks: [Bool], x: Int, y: Int, style: Style, highlight: Style, limit: Int,
                    into buffer: inout CellBuffer) {
        guard marks.contains(true) else {
            buffer.put(line, x: x, y: y, style: style, limit: limit)
            return
        }
        var column = x
        var run = ""
        var runMarked = false
        for (offset, character) in line.enumerated() {
            let marked = offset < marks.count && marks[offset]
            if marked != runMarked, !run.isEmpty {
                column = buffer.put(run, x: column, y: y, style: runMarked ? highlight : style, limit: limit)
                run = ""
            }
            runMarked = marked
            run.append(character)
        }
        buffer.put(run, x: column, y: y, style: runMarked ? highlight : style, limit: limit)
    }

    /// `text` wrapped to `width` with its differences from `reference` flagged (and bracketed
    /// when `brackets`), kept until one of those changes.
    func markedLines(_ key: TextKey, _ text: String, reference: String, width: Int, brackets: Bool) -> MarkedLines {
        let inputs = [text, reference, String(width), brackets ? "[]" : ""]
        if let cached = marked[key], cached.inputs == inputs { return cached }
        let (shown, flags) = Self.marking(text, WordDiff.changedCharacters(in: text, against: reference), brackets: brackets)
        let lines = WrappedText(shown, width: width).lines
        // Wrapping only drops spaces and newlines, so each line's characters are found in order.
        let characters = Array(shown)
        var next = 0
        let marks = lines.map { line in
            line.map { character -> Bool in
                while next < characters.count, characters[next] != character { next += 1 }
                defer { next += 1 }
                return next < characters.count && flags[next]
            }
        }
        let result = MarkedLines(inputs: inputs, lines: lines, marks: marks)
        marked[key] = result
        return result
    }

    /// The text as shown and a flag per character: changed words, with the spaces between
    /// neighbouring changed words on one line, form one marked run; with `brackets`, each run
    /// is wrapped in `[` `]` (marked too).
    static func marking(_ text: String, _ changed: [Bool], brackets: Bool) -> (String, [Bool]) {
        let characters = Array(text)
        var flags = changed
        // Join runs separated only by spaces.
        var lastMarked: Int?
        for (index, character) in characters.enumerated() {
            if character.isNewline { lastMarked = nil; continue }
            guard flags[index] else { continue }
            if let last = lastMarked, last + 1 < index,
               characters[(last + 1)..<index].allSatisfy({ $0.isWhitespace && !$0.isNewline }) {
                for between in (last + 1)..<index { flags[between] = true }
            }
            lastMarked = index
        }
        guard brackets else { return (text, flags) }
        var shown = "", shownFlags: [Bool] = []
        for (index, character) in characters.enumerated() {
            let opens = flags[index] && (index == 0 || !flags[index - 1])
            let closes = flags[index] && (index + 1 == characters.count || !flags[index + 1])
            if opens { shown.append("["); shownFlags.append(true) }
            shown.append(character)
            shownFlags.append(flags[index])
            if closes { shown.append("]"); shownFlags.append(true) }
        }
        return (shown, shownFlags)
    }
}
