import CNCurses
import Foundation

/// Why the terminal cannot be used.
public struct TerminalError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// The ncursesw driver: raw keys (Ctrl-C and Ctrl-Z arrive as keys), bracketed paste, mouse
/// clicks, resizes as `KEY_RESIZE`, colours by extended pairs (direct RGB where the terminal
/// has it). The terminal is restored by `restore()`, on a crash signal, and around Ctrl-Z.
public final class NCursesTerminal: Terminal {
    public private(set) var size: Size
    public let colors: ColorSupport
    private var pairs: [PairKey: Int32] = [:]
    private var nextPair: Int32 = 1
    private var pasting: String?
    private var restored = false
    private let direct: Bool
    private static let pasteStart = 0x1FF0 as Int32, pasteEnd = 0x1FF1 as Int32

    private struct PairKey: Hashable { var foreground: Int32; var background: Int32 }

    /// Takes over the terminal. `noColor` (the `NO_COLOR` convention) draws without colours.
    public init(noColor: Bool) throws {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw TerminalError(description: "ponder chat needs a terminal: standard input and output must be a TTY.")
        }
        ponder_use_utf8_locale()
        setenv("ESCDELAY", "25", 0)
        guard let screen = ponder_newterm() else {
            throw TerminalError(description: "The terminal '\(ProcessInfo.processInfo.environment["TERM"] ?? "")' is not known to ncurses; set TERM (for example TERM=xterm-256color).")
        }
        _ = set_term(screen)
        raw()
        noecho()
        nonl()
        _ = keypad(ponder_stdscr(), true)
        var support = ColorSupport.none
        if !noColor && has_colors() {
            start_color()
            use_default_colors()
            let count = ponder_colors()
            support = count >= 0x1000000 ? .trueColor : count >= 256 ? .xterm256 : count >= 16 ? .ansi16 : count >= 8 ? .ansi16 : .none
        }
        colors = support
        direct = support == .trueColor
        size = Size(width: Int(ponder_cols()), height: Int(ponder_lines()))
        define_key("\u{1b}[200~", Self.pasteStart)
        define_key("\u{1b}[201~", Self.pasteEnd)
        ponder_enable_mouse()
        Self.writeRaw("\u{1b}[?2004h")
        Self.installCrashHandlers()
    }

    static func writeRaw(_ text: String) { ponder_write_raw(text) }

    private static func installCrashHandlers() { ponder_install_crash_handlers() }

    private func colorNumber(_ color: Color) -> Int32 {
        switch color.adapted(to: colors) {
        case .terminal: return -1
        case .ansi(let index): return direct && index >= 8 ? rgbNumber(Color.rgb(ofIndexed: index)) : Int32(index)
        case .indexed(let index): return direct ? rgbNumber(Color.rgb(ofIndexed: index)) : Int32(index)
        case .rgb(let r, let g, let b): return rgbNumber((r, g, b))
        }
    }

    private func rgbNumber(_ rgb: (UInt8, UInt8, UInt8)) -> Int32 { Int32(rgb.0) << 16 | Int32(rgb.1) << 8 | Int32(rgb.2) }

    private func pair(for style: Style) -> Int32 {
        guard colors != .none else { return 0 }
        let key = PairKey(foreground: colorNumber(style.foreground), background: colorNumber(style.background))
        if key.foreground == -1 && key.background == -1 { return 0 }
        if let pair = pairs[key] { return pair }
        if nextPair >= ponder_color_pairs() { pairs = [:]; nextPair = 1 }
        let pair = nextPair
        nextPair += 1
        init_extended_pair(pair, key.foreground, key.background)
        pairs[key] = pair
        return pair
    }

    public func draw(_ runs: [CellRun], cursor: Point?) {
        for run in runs {
            var x = run.origin.x
            var index = 0
            while index < run.cells.count {
                let style = run.cells[index].style
                var text: [wchar_t] = []
                let start = x
                while index < run.cells.count && run.cells[index].style == style {
                    let cell = run.cells[index]
                    if !cell.isContinuation {
                        text.append(wchar_t(bitPattern: cell.base))
                        if cell.mark != 0 { text.append(wchar_t(bitPattern: cell.mark)) }
                    }
                    index += 1
                    x += 1
                }
                text.append(0)
                let attributes = ponder_attributes(style.bold ? 1 : 0, style.dim ? 1 : 0, style.underline ? 1 : 0,
                                                   style.reverse ? 1 : 0)
                _ = ponder_put(Int32(run.origin.y), Int32(start), text, attributes, pair(for: style))
            }
        }
        if let cursor {
            curs_set(1)
            _ = ponder_move_cursor(Int32(cursor.y), Int32(cursor.x))
        } else {
            curs_set(0)
        }
        wrefresh(ponder_stdscr())
    }

    public func invalidate() {
        clearok(ponder_stdscr(), true)
    }

    public func read(timeoutMilliseconds: Int) -> [InputEvent] {
        var events: [InputEvent] = []
        wtimeout(ponder_stdscr(), Int32(timeoutMilliseconds))
        while true {
            var character: wint_t = 0
            let status = ponder_get_wch(&character)
            if status == ERR { break }
            if let event = translate(status: status, character: Int32(bitPattern: UInt32(character))) { events.append(event) }
            wtimeout(ponder_stdscr(), 0)
            if events.count > 256 { break }
        }
        if events.isEmpty && pasting == nil { return [] }
        return events
    }

    private func translate(status: Int32, character: Int32) -> InputEvent? {
        if status == KEY_CODE_YES {
            switch character {
            case Self.pasteStart: pasting = ""; return nil
            case Self.pasteEnd:
                let text = pasting ?? ""
                pasting = nil
                return .paste(text)
            case KEY_RESIZE:
                size = Size(width: Int(ponder_cols()), height: Int(ponder_lines()))
                return .resize(size)
            case KEY_MOUSE:
                var x: Int32 = 0, y: Int32 = 0
                return ponder_mouse_click(&x, &y) == 1 ? .click(Point(x: Int(x), y: Int(y))) : nil
            case KEY_UP: return .key(.up)
            case KEY_DOWN: return .key(.down)
            case KEY_LEFT: return .key(.left)
            case KEY_RIGHT: return .key(.right)
            case KEY_HOME: return .key(.home)
            case KEY_END: return .key(.end)
            case KEY_PPAGE: return .key(.pageUp)
            case KEY_NPAGE: return .key(.pageDown)
            case KEY_BACKSPACE: return .key(.backspace)
            case KEY_DC: return .key(.delete)
            case KEY_ENTER: return .key(.enter)
            case KEY_BTAB: return .key(.backTab)
            default:
                for n in 1...12 where character == ponder_key_f(Int32(n)) { return .key(.function(n)) }
                return nil
            }
        }
        guard let scalar = Unicode.Scalar(UInt32(bitPattern: character)) else { return nil }
        if pasting != nil {
            pasting!.unicodeScalars.append(scalar == "\r" ? "\n" : scalar)
            return nil
        }
        switch character {
        case 27: return .key(.escape)
        case 13, 10: return .key(.enter)
        case 9: return .key(.tab)
        case 127, 8: return .key(.backspace)
        case 1...26: return .key(.control(Character(Unicode.Scalar(UInt8(96 + character)))))
        case 0..<32: return nil
        default: return .key(.character(Character(scalar)))
        }
    }

    public func restore() {
        guard !restored else { return }
        restored = true
        Self.writeRaw("\u{1b}[?2004l")
        endwin()
    }

    public func suspend() {
        Self.writeRaw("\u{1b}[?2004l")
        endwin()
        kill(getpid(), SIGSTOP)
        // Back after fg: the shell gave the terminal back in its own modes; take ours again.
        reset_prog_mode()
        raw()
        noecho()
        nonl()
        _ = keypad(ponder_stdscr(), true)
        invalidate()
        wrefresh(ponder_stdscr())
        Self.writeRaw("\u{1b}[?2004h")
    }
}
