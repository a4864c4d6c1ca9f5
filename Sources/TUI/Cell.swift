/// A colour as a theme names it; the terminal driver maps it to what the terminal can show.
public enum Color: Hashable, Sendable, Codable {
    /// The terminal's own foreground or background.
    case terminal
    /// One of the 16 ANSI colours (0–15), drawn in the terminal's own palette.
    case ansi(UInt8)
    /// One of the xterm 256 colours.
    case indexed(UInt8)
    case rgb(UInt8, UInt8, UInt8)
}

extension Color {
    /// The colour in 32 bits: the kind in the top byte, the value below.
    var packed: UInt32 {
        switch self {
        case .terminal: 0
        case .ansi(let index): 1 << 24 | UInt32(index)
        case .indexed(let index): 2 << 24 | UInt32(index)
        case .rgb(let r, let g, let b): 3 << 24 | UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
        }
    }

    init(packed: UInt32) {
        switch packed >> 24 {
        case 1: self = .ansi(UInt8(packed & 0xFF))
        case 2: self = .indexed(UInt8(packed & 0xFF))
        case 3: self = .rgb(UInt8((packed >> 16) & 0xFF), UInt8((packed >> 8) & 0xFF), UInt8(packed & 0xFF))
        default: self = .terminal
        }
    }
}

/// How a cell is drawn. Stored as three integers, so cells compare fast when frames are
/// diffed.
public struct Style: Hashable, Sendable {
    private var foregroundBits: UInt32
    private var backgroundBits: UInt32
    private var flags: UInt8

    public var foreground: Color {
        get { Color(packed: foregroundBits) }
        set { foregroundBits = newValue.packed }
    }
    public var background: Color {
        get { Color(packed: backgroundBits) }
        set { backgroundBits = newValue.packed }
    }
    private func flag(_ bit: UInt8) -> Bool { flags & bit != 0 }
    private mutating func set(_ bit: UInt8, _ on: Bool) { flags = on ? flags | bit : flags & ~bit }
    public var bold: Bool { get { flag(1) } set { set(1, newValue) } }
    public var dim: Bool { get { flag(2) } set { set(2, newValue) } }
    public var underline: Bool { get { flag(4) } set { set(4, newValue) } }
    public var reverse: Bool { get { flag(8) } set { set(8, newValue) } }

    public init(foreground: Color = .terminal, background: Color = .terminal, bold: Bool = false, dim: Bool = false,
                underline: Bool = false, reverse: Bool = false) {
        foregroundBits = foreground.packed
        backgroundBits = background.packed
        flags = (bold ? 1 : 0) | (dim ? 2 : 0) | (underline ? 4 : 0) | (reverse ? 8 : 0)
    }

    public static let plain = Style()

    public func with(foreground: Color? = nil, background: Color? = nil, bold: Bool? = nil, reverse: Bool? = nil) -> Style {
        var style = self
        if let foreground { style.foreground = foreground }
        if let background { style.background = background }
        if let bold { style.bold = bold }
        if let reverse { style.reverse = reverse }
        return style
    }
}

/// One screen cell: a grapheme (at most two Unicode scalars: a base and one combining mark
/// or variation selector) and its style. A plain value without references, so frames copy
/// and compare fast. A wide character fills its cell and marks the next one as its
/// continuation (no scalars).
public struct Cell: Hashable, Sendable {
    /// The first scalar's value; 0 marks the continuation of a wide character.
    public var base: UInt32
    /// A second scalar joined to the first (0: none).
    public var mark: UInt32
    public var style: Style

    public init(_ text: String = " ", style: Style = .plain) {
        var scalars = text.unicodeScalars.makeIterator()
        base = scalars.next()?.value ?? 0
        mark = scalars.next()?.value ?? 0
        self.style = style
    }

    init(scalar: Unicode.Scalar, style: Style) {
        base = scalar.value
        mark = 0
        self.style = style
    }

    static func continuation(_ style: Style) -> Cell {
        var cell = Cell(scalar: " ", style: style)
        cell.base = 0
        return cell
    }

    public static let blank = Cell()
    public var isContinuation: Bool { base == 0 }

    /// The grapheme as text ("" for a continuation).
    public var text: String {
        var text = ""
        if let scalar = Unicode.Scalar(base), base != 0 { text.unicodeScalars.append(scalar) }
        if let scalar = Unicode.Scalar(mark), mark != 0 { text.unicodeScalars.append(scalar) }
        return text
    }
}

/// A position on the screen, column first.
public struct Point: Hashable, Sendable {
    public var x: Int
    public var y: Int
    public init(x: Int, y: Int) { self.x = x; self.y = y }
}

/// A screen size in cells.
public struct Size: Hashable, Sendable {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
}

/// A rectangle of cells.
public struct Rect: Hashable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = max(0, width); self.height = max(0, height)
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public func contains(_ point: Point) -> Bool { point.x >= x && point.x < maxX && point.y >= y && point.y < maxY }
}

/// The grid a view draws into; the run loop diffs two of them and sends only the changes.
public struct CellBuffer: Equatable, Sendable {
    public let size: Size
    public private(set) var cells: [Cell]

    public init(size: Size, fill: Cell = .blank) {
        self.size = Size(width: max(0, size.width), height: max(0, size.height))
        cells = Array(repeating: fill, count: self.size.width * self.size.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * size.width + x] }
        set { cells[y * size.width + x] = newValue }
    }

    public mutating func fill(_ rect: Rect, with cell: Cell) {
        let x0 = max(0, rect.x), x1 = min(size.width, rect.maxX), y0 = max(0, rect.y), y1 = min(size.height, rect.maxY)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 { for x in x0..<x1 { cells[y * size.width + x] = cell } }
    }

    /// Writes `text` on row `y` from column `x`, clipped at column `limit` (default: the
    /// buffer's width); returns the column after the last cell written. Wide characters take
    /// two cells and are not split at the clip edge; zero-width ones join the previous cell.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style, limit: Int? = nil) -> Int {
        guard y >= 0, y < size.height else { return x }
        let end = min(limit ?? size.width, size.width)
        var column = x
        let row = y * size.width
        // Scalars, not Characters: no grapheme breaking on the drawing path. A zero-width
        // scalar (combining mark, variation selector) joins the cell before it.
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value >= 0x20 && value < 0x7F {
                if column >= end { break }
                if column >= 0 { cells[row + column] = Cell(scalar: scalar, style: style) }
                column += 1
                continue
            }
            let width = TextWidth.columns(of: scalar)
            if width == 0 {
                var target = column - 1
                if target >= 0 && target < end && cells[row + target].isContinuation && target > 0 { target -= 1 }
                if column > x, target >= 0, target < end, cells[row + target].mark == 0 { cells[row + target].mark = value }
                continue
            }
            if column + width > end { break }
            if column >= 0 {
                let glyph: Unicode.Scalar = value == 0x0A || value == 0x09 ? " " : (value < 0x20 || (value >= 0x7F && value < 0xA0)) ? "\u{FFFD}" : scalar
                cells[row + column] = Cell(scalar: glyph, style: style)
                if width == 2 && column + 1 < size.width { cells[row + column + 1] = .continuation(style) }
            }
            column += width
        }
        return column
    }

    /// A C0 or C1 control character: never sent to the terminal as it is.
    static func isControl(_ character: Character) -> Bool {
        guard let scalar = character.unicodeScalars.first else { return false }
        return scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0)
    }

    /// The rows as plain text (continuation cells skipped, trailing spaces kept): the form
    /// the snapshot tests compare.
    public var lines: [String] {
        (0..<size.height).map { y in
            var line = ""
            for x in 0..<size.width where !self[x, y].isContinuation { line += self[x, y].text }
            return line
        }
    }
}
