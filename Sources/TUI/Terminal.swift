/// What the terminal can show.
public enum ColorSupport: Sendable, Equatable {
    /// `NO_COLOR`, or a terminal without colours: attributes only.
    case none
    /// The 16 ANSI colours (in the terminal's own palette).
    case ansi16
    case xterm256
    case trueColor
}

/// A key or other input, as the run loop hands it to the app.
public enum Key: Hashable, Sendable {
    case character(Character)
    /// Ctrl plus a letter, lower case (`ctrl("c")`).
    case control(Character)
    case enter, tab, backTab, backspace, delete, escape
    case up, down, left, right, home, end, pageUp, pageDown
    case function(Int)
}

public enum InputEvent: Hashable, Sendable {
    case key(Key)
    /// Text that arrived between bracketed-paste markers.
    case paste(String)
    /// A click (button 1) at a cell.
    case click(Point)
    case resize(Size)
}

/// A run of changed cells on one row.
public struct CellRun: Equatable, Sendable {
    public var origin: Point
    public var cells: [Cell]
}

/// The seam between the app and a real terminal (the ncurses driver) or a test's
/// `MemoryTerminal`. Only the run loop calls it.
public protocol Terminal: AnyObject {
    var size: Size { get }
    var colors: ColorSupport { get }
    /// Draws the changed runs and shows the result; `cursor` nil hides the cursor.
    func draw(_ runs: [CellRun], cursor: Point?)
    /// Forgets what is on the screen, so the next frame is drawn in full (after Ctrl-Z/fg).
    func invalidate()
    /// Input that arrives within `timeoutMilliseconds` (or what is already queued).
    func read(timeoutMilliseconds: Int) -> [InputEvent]
    /// Restores the terminal to how it was before (idempotent).
    func restore()
    /// Suspends the process (Ctrl-Z): restores the terminal, stops, and takes it back on fg.
    func suspend()
}

/// The differences between two frames, as runs of changed cells per row. Runs never start
/// on the continuation half of a wide character.
public func diff(from old: CellBuffer?, to new: CellBuffer) -> [CellRun] {
    var runs: [CellRun] = []
    let width = new.size.width
    let previous = old.flatMap { $0.size == new.size ? $0.cells : nil }
    new.cells.withUnsafeBufferPointer { cells in
        (previous ?? []).withUnsafeBufferPointer { oldCells in
            let full = previous == nil
            for y in 0..<new.size.height {
                let row = y * width
                var x = 0
                while x < width {
                    if !full && oldCells[row + x] == cells[row + x] { x += 1; continue }
                    var start = x
                    if cells[row + start].isContinuation && start > 0 { start -= 1 }
                    var end = x + 1
                    while end < width && (full || oldCells[row + end] != cells[row + end] || cells[row + end].isContinuation) {
                        end += 1
                    }
                    let changed = Array(cells[(row + start)..<(row + end)])
                    if let last = runs.last, last.origin.y == y, last.origin.x + last.cells.count >= start {
                        let overlap = last.origin.x + last.cells.count - start
                        runs[runs.count - 1].cells += changed.dropFirst(overlap)
                    } else {
                        runs.append(CellRun(origin: Point(x: start, y: y), cells: changed))
                    }
                    x = end
                }
            }
        }
    }
    return runs
}

/// An in-memory terminal for tests and benchmarks: a cell grid that runs are drawn into, and
/// a queue of input to hand out.
public final class MemoryTerminal: Terminal {
    public private(set) var size: Size
    public let colors: ColorSupport
    public private(set) var screen: CellBuffer
    public private(set) var cursor: Point?
    public private(set) var cellsWritten = 0
    public private(set) var restored = false
    public var input: [InputEvent] = []

    public init(size: Size, colors: ColorSupport = .trueColor) {
        self.size = size
        self.colors = colors
        screen = CellBuffer(size: size)
    }

    public func resize(to size: Size) {
        self.size = size
        screen = CellBuffer(size: size)
        input.append(.resize(size))
    }

    public func draw(_ runs: [CellRun], cursor: Point?) {
        for run in runs {
            for (offset, cell) in run.cells.enumerated() where run.origin.x + offset < size.width {
                screen[run.origin.x + offset, run.origin.y] = cell
            }
            cellsWritten += run.cells.count
        }
        self.cursor = cursor
    }

    public func invalidate() {}
    public func read(timeoutMilliseconds: Int) -> [InputEvent] {
        defer { input = [] }
        return input
    }
    public func restore() { restored = true }
    public func suspend() {}

    /// The screen as text, one line per row.
    public var text: String { screen.lines.joined(separator: "\n") }
}
