/// The colours of the UI roles and of each stage.
public struct Theme: Sendable, Equatable {
    public var name: String
    public var text: Color
    public var background: Color
    public var muted: Color
    public var accent: Color
    public var user: Color
    public var border: Color
    public var error: Color
    public var statusForeground: Color
    public var statusBackground: Color
    public var selectionForeground: Color
    public var selectionBackground: Color
    /// The words where a candidate differs from the chosen one, in the compare view.
    public var diff: Color
    public var stages: [StageName: Color]

    public init(name: String, text: Color = .terminal, background: Color = .terminal, muted: Color = .ansi(8),
                accent: Color = .ansi(6), user: Color = .ansi(4), border: Color = .ansi(8), error: Color = .ansi(1),
                statusForeground: Color = .ansi(0), statusBackground: Color = .ansi(7),
                selectionForeground: Color = .ansi(0), selectionBackground: Color = .ansi(6), diff: Color = .ansi(9),
                stages: [StageName: Color] = [.summary: .ansi(5), .caption: .ansi(6), .reasoning: .ansi(3),
                                              .conclusion: .ansi(2)]) {
        self.name = name
        self.text = text
        self.background = background
        self.muted = muted
        self.accent = accent
        self.user = user
        self.border = border
        self.error = error
        self.statusForeground = statusForeground
        self.statusBackground = statusBackground
        self.selectionForeground = selectionForeground
        self.selectionBackground = selectionBackground
        self.diff = diff
        self.stages = stages
    }

    /// The theme used when no theme file can be read: the ANSI-16 palette.
    public static let fallback = Theme(name: "fallback")

    // Role styles.
    public var plain: Style { Style(foreground: text, background: background) }
    public var dimmed: Style { Style(foreground: muted, background: background) }
    public var userStyle: Style { Style(foreground: user, background: background, bold: true) }
    public var errorStyle: Style { Style(foreground: error, background: background, bold: true) }
    public var borderStyle: Style { Style(foreground: border, background: background) }
    public var accentStyle: Style { Style(foreground: accent, background: background, bold: true) }
    public var status: Style { Style(foreground: statusForeground, background: statusBackground) }
    public var selection: Style { Style(foreground: selectionForeground, background: selectionBackground, bold: true) }
    /// Differing words: the `diff` colour, bold and underlined (the attributes stay under `NO_COLOR`).
    public var diffStyle: Style { Style(foreground: diff, background: background, bold: true, underline: true) }
    public func header(_ stage: StageName) -> Style {
        Style(foreground: stages[stage] ?? accent, background: background, bold: true)
    }
    public func body(_ stage: StageName) -> Style {
        stage == .conclusion ? plain : Style(foreground: stages[stage] ?? text, background: background)
    }
}
