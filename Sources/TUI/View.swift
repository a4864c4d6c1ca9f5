import Foundation

/// A drawn frame: the cells, where the cursor goes, and which rows are stage headers (for
/// clicks).
public struct Frame: Sendable {
    public var buffer: CellBuffer
    public var cursor: Point?
    /// Row → stage index of the last turn, for the headers on screen.
    public var headerRows: [Int: Int]
}

/// Draws the state into a cell buffer. It keeps the wrapped lines of every text it has drawn
/// (keyed by turn, branch, stage and candidate), so a token re-wraps only the last line of the
/// stage it extends; everything else is reused.
public final class View {
    enum TextKey: Hashable {
        case question(turn: Int)
        case body(turn: Int, branch: Int, stage: Int, candidate: Int)
        case error(turn: Int, branch: Int)
        case compare(stage: Int, candidate: Int)
        case help
    }

    private var wraps: [TextKey: WrappedText] = [:]
    private var preview: (key: String, rows: [[Cell]])?
    /// The compare view's candidates drawn with their differences marked (`View+Compare`),
    /// with what they were made from.
    var marked: [TextKey: MarkedLines] = [:]

    public init() {}

    func wrapped(_ key: TextKey, _ text: String, width: Int) -> [String] {
        // Updated in place: a copy would copy every line of the stage on each token.
        wraps[key, default: WrappedText(width: width)].update(text, width: width)
        return wraps[key]!.lines
    }

    /// One block of conversation lines.
    private enum Block {
        case text(key: TextKey, text: String, prefix: String, style: Style)
        case header(turn: Int, stage: Int)
        case body(key: TextKey, text: String, style: Style)
        case blank
    }

    public func render(_ state: AppState) -> Frame {
        let size = state.size
        let theme = state.theme
        var buffer = CellBuffer(size: size, fill: Cell(" ", style: theme.plain))
        var frame = Frame(buffer: buffer, cursor: nil, headerRows: [:])
        guard size.width >= 8, size.height >= 3 else {
            buffer.put("ponder", x: 0, y: 0, style: theme.plain)
            frame.buffer = buffer
            return frame
        }
        let mainHeight = size.height - 2
        var conversation = Rect(x: 0, y: 0, width: size.width, height: mainHeight)
        if let image = state.image {
            if size.width >= 70 && mainHeight >= 8 {
                let width = min(36, size.width / 3)
                drawPreview(image, state: state, in: Rect(x: 0, y: 0, width: width, height: mainHeight), into: &buffer)
                for y in 0..<mainHeight { buffer.put("│", x: width, y: y, style: theme.borderStyle) }
                conversation = Rect(x: width + 2, y: 0, width: size.width - width - 3, height: mainHeight)
            } else if mainHeight >= 18 {
                let height = min(8, mainHeight / 3)
                drawPreview(image, state: state, in: Rect(x: 0, y: 0, width: size.width, height: height - 1), into: &buffer)
                for x in 0..<size.width { buffer.put("─", x: x, y: height - 1, style: theme.borderStyle) }
                conversation = Rect(x: 0, y: height, width: size.width, height: mainHeight - height)
            }
        }
        switch state.overlay {
        case .compare(let stage, let selected, let manual)?:
            drawCompare(state, stage: stage, selected: selected, manual: manual, in: conversation, into: &buffer)
        default:
            frame.headerRows = drawConversation(state, in: conversation, into: &buffer)
        }
        if state.overlay == .help {
            drawHelp(state, in: Rect(x: 0, y: 0, width: size.width, height: mainHeight), into: &buffer)
        }
        frame.cursor = drawInput(state, row: size.height - 2, into: &buffer)
        drawStatus(state, row: size.height - 1, into: &buffer)
        frame.buffer = buffer
        return frame
    }

    // MARK: conversation

    private func drawConversation(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) -> [Int: Int] {
        let theme = state.theme
        guard rect.width > 4, rect.height > 0 else { return [:] }
        if state.turns.isEmpty {
            let welcome = "Ask a question about the image and press Enter. The model reasons in four stages; ? lists the keys."
            for (row, line) in wrapped(.help, welcome, width: rect.width).prefix(rect.height).enumerated() {
                buffer.put(line, x: rect.x, y: rect.y + row, style: theme.dimmed)
            }
            return [:]
        }
        var blocks: [Block] = []
        for (turnIndex, turn) in state.turns.enumerated() {
            var question = turn.question
            if turn.branches.count > 1 { question += "  (branch \(turn.current + 1)/\(turn.branches.count))" }
            blocks.append(.text(key: .question(turn: turnIndex), text: question, prefix: "› ", style: theme.userStyle))
            let branch = turn.branch
            for (stageIndex, stage) in branch.stages.enumerated() {
                blocks.append(.header(turn: turnIndex, stage: stageIndex))
                if state.isExpanded(stage), let shown = stage.shown, !shown.text.isEmpty {
                    let key = TextKey.body(turn: turnIndex, branch: turn.current, stage: stageIndex, candidate: stage.viewing)
                    blocks.append(.body(key: key, text: shown.text, style: theme.body(stage.name)))
                }
            }
            if let error = branch.error {
                blocks.append(.text(key: .error(turn: turnIndex, branch: turn.current), text: error, prefix: "! ",
                                    style: theme.errorStyle))
            }
            blocks.append(.blank)
        }
        // Heights (wrapping only what changed), then the visible window from the bottom.
        let bodyWidth = rect.width - 2
        var heights: [Int] = []
        heights.reserveCapacity(blocks.count)
        var total = 0
        for block in blocks {
            let height: Int
            switch block {
            case .text(let key, let text, _, _): height = wrapped(key, text, width: bodyWidth).count
            case .body(let key, let text, _): height = wrapped(key, text, width: bodyWidth).count
            case .header, .blank: height = 1
            }
            heights.append(height)
            total += height
        }
        let scroll = min(state.scroll, max(0, total - rect.height))
        let bottom = total - scroll
        let top = max(0, bottom - rect.height)
        var headerRows: [Int: Int] = [:]
        var offset = 0
        let lastTurn = state.turns.count - 1
        for (index, block) in blocks.enumerated() {
            let height = heights[index]
            defer { offset += height }
            guard offset + height > top, offset < bottom else { continue }
            for line in max(0, top - offset)..<min(height, bottom - offset) {
                let y = rect.y + offset + line - top
                switch block {
                case .text(let key, let text, let prefix, let style):
                    let lines = wrapped(key, text, width: bodyWidth)
                    buffer.put(line == 0 ? prefix : "  ", x: rect.x, y: y, style: style)
                    buffer.put(lines[line], x: rect.x + 2, y: y, style: style, limit: rect.maxX)
                case .body(let key, let text, let style):
                    buffer.put(wrapped(key, text, width: bodyWidth)[line], x: rect.x + 2, y: y, style: style, limit: rect.maxX)
                case .header(let turn, let stage):
                    let focused = turn == lastTurn && state.focus == stage
                    let stageState = state.turns[turn].branch.stages[stage]
                    let style = focused ? theme.selection : theme.header(stageState.name)
                    if focused { buffer.fill(Rect(x: rect.x, y: y, width: rect.width, height: 1), with: Cell(" ", style: style)) }
                    buffer.put(Self.header(stageState, expanded: state.isExpanded(stageState)), x: rect.x, y: y, style: style,
                               limit: rect.maxX)
                    if turn == lastTurn { headerRows[y] = stage }
                case .blank:
                    break
                }
            }
        }
        return headerRows
    }

    /// `▾ Caption · streaming · ◀ 2/4 ▶ · 41 tok`
    static func header(_ stage: StageState, expanded: Bool) -> String {
        var parts = [(expanded ? "▾ " : "▸ ") + stage.name.title]
        switch stage.phase {
        case .choosing: parts.append("pick 1–\(stage.candidates.count)")
        case .done where stage.by == "user": parts.append("done · picked")
        default: parts.append(stage.phase.rawValue)
        }
        if stage.candidates.count > 1 { parts.append("◀ \(stage.viewing + 1)/\(stage.candidates.count) ▶") }
        if let shown = stage.shown, shown.tokens > 0 || stage.phase != .waiting { parts.append("\(shown.tokens) tok") }
        if stage.pinned { parts.append("pinned") }
        return parts.joined(separator: " · ")
    }

    // MARK: preview

    private func drawPreview(_ image: PreviewImage, state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.width > 2, rect.height > 1 else { return }
        let name = (state.imagePath as NSString?)?.lastPathComponent ?? "image"
        let caption = "\(name) \(image.width)×\(image.height)"
        if state.colors == .none {
            buffer.put("[" + caption + "]", x: rect.x, y: rect.y, style: state.theme.dimmed, limit: rect.maxX)
            return
        }
        let key = "\(state.imagePath ?? "")|\(image.width)x\(image.height)|\(rect.width)x\(rect.height)|\(state.colors)"
        if preview?.key != key {
            preview = (key, image.halfBlocks(columns: rect.width, rows: rect.height - 1, colors: state.colors))
        }
        let rows = preview!.rows
        for (row, cells) in rows.enumerated() {
            for (column, cell) in cells.enumerated() { buffer[rect.x + column, rect.y + row] = cell }
        }
        buffer.put(caption, x: rect.x, y: rect.y + rows.count, style: state.theme.dimmed, limit: rect.maxX)
    }

    // MARK: help

    static let keys: [(String, String)] = [
        ("Enter", "send the question, or run a /command"),
        ("Esc, Ctrl-C", "stop generating (keeps the text); Ctrl-C twice when idle quits"),
        ("Tab, S-Tab", "focus the next or previous stage"),
        ("Ctrl-O, F2", "expand or collapse the focused stage (or click its header)"),
        ("Ctrl-T, F3", "expand or collapse all hidden stages (remembered)"),
        ("Ctrl-G, F4", "pin the focused stage open"),
        ("Ctrl-X, F5", "compare the focused stage's candidates and pick one"),
        ("[ ]", "show the previous or next candidate (empty input line)"),
        ("1–9, ←→ Enter", "pick a candidate in the compare view"),
        ("Ctrl-R, F6", "regenerate the last answer"),
        ("F7", "show the next branch of the last answer"),
        ("PgUp, PgDn", "scroll the conversation"),
        ("↑ ↓", "input history (Ctrl-A E B F K U W Y edit)"),
        ("? or F1", "this help; any key closes it"),
    ]

    private func drawHelp(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        let theme = state.theme
        let lines = [("Keys", "")] + Self.keys + [("", ""), ("Commands", "")] + AppState.commands
        let width = rect.width, height = min(rect.height, lines.count + 2)
        let box = Rect(x: rect.x + (rect.width - width) / 2, y: rect.y + max(0, (rect.height - height) / 2),
                       width: width, height: height)
        buffer.fill(box, with: Cell(" ", style: theme.status))
        let keyWidth = min(16, width / 3)
        for (row, (key, text)) in lines.prefix(max(0, height - 2)).enumerated() {
            let y = box.y + 1 + row
            let style = text.isEmpty ? theme.status.with(bold: true) : theme.status
            buffer.put(key, x: box.x + 1, y: y, style: style, limit: box.maxX - 1)
            buffer.put(text, x: box.x + 2 + keyWidth, y: y, style: theme.status, limit: box.maxX - 1)
        }
    }

    // MARK: input and status

    private func drawInput(_ state: AppState, row: Int, into buffer: inout CellBuffer) -> Point? {
        let theme = state.theme
        let prompt = state.pendingPick.map { "pick 1–\($0.candidates) › " } ?? "› "
        let start = buffer.put(prompt, x: 0, y: row, style: theme.accentStyle)
        let room = max(1, buffer.size.width - start - 1)
        let characters = Array(state.input.text)
        // Scroll horizontally so the cursor stays in view.
        var first = 0
        while TextWidth.columns(of: String(characters[first..<state.input.cursor])) > room { first += 1 }
        let end = buffer.put(String(characters[first...]), x: start, y: row, style: theme.plain)
        _ = end
        let cursorColumn = start + TextWidth.columns(of: String(characters[first..<state.input.cursor]))
        return state.overlay == nil ? Point(x: min(cursorColumn, buffer.size.width - 1), y: row) : nil
    }

    private func drawStatus(_ state: AppState, row: Int, into buffer: inout CellBuffer) {
        let theme = state.theme
        buffer.fill(Rect(x: 0, y: row, width: buffer.size.width, height: 1), with: Cell(" ", style: theme.status))
        var parts = [state.modelName,
                     state.settings.strategy + (state.settings.strategy == "greedy" ? "" : " ×\(state.settings.beam)")]
        parts.append("judge \(state.settings.judge)")
        if state.isRunning {
            let elapsed = max(0, state.now - state.runStarted)
            parts.append(String(format: "%.1f tok/s", elapsed > 0 ? Double(state.runTokens) / elapsed : 0))
            parts.append(String(format: "%.1fs", elapsed))
        } else if let branch = state.lastBranch, branch.seconds > 0 {
            parts.append(String(format: "%.1f tok/s", Double(branch.generatedTokens) / branch.seconds))
            parts.append(String(format: "%.1fs", branch.seconds))
        }
        let left = " " + parts.filter { !$0.isEmpty }.joined(separator: " · ")
        let hints = state.notice ?? (state.isRunning ? "Esc stop · ? help" : "Tab/^O stages · ^X compare · ? help")
        let rightWidth = TextWidth.columns(of: hints) + 1
        let end = buffer.put(left, x: 0, y: row, style: theme.status)
        if end + 2 + rightWidth <= buffer.size.width {
            buffer.put(hints, x: buffer.size.width - rightWidth, y: row, style: state.notice != nil ? theme.status.with(bold: true) : theme.status)
        } else if state.notice != nil {
            buffer.fill(Rect(x: 0, y: row, width: buffer.size.width, height: 1), with: Cell(" ", style: theme.status))
            buffer.put(" " + hints, x: 0, y: row, style: theme.status.with(bold: true))
        }
    }
}

extension String {
    var trimmingLeadingNewlines: String {
        guard let first = firstIndex(where: { !$0.isNewline && $0 != " " }) else { return "" }
        return first == startIndex ? self : String(self[first...])
    }
}
