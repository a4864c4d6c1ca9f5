import Foundation
import Testing
@testable import TUI

@Suite("text, colours, themes")
struct UnitTests {
    @Test(arguments: [1, 3, 7, 12, 30])
    func incrementalWrapEqualsAFullWrap(width: Int) {
        let text = "The quick brown fox jumps over the lazy dog.\nA 日本語 line with wide characters, and averyveryverylongwordthatmustbecut here.\n\nEnd."
        var incremental = WrappedText(width: width)
        var sofar = ""
        for character in text {
            sofar.append(character)
            incremental.update(sofar)
        }
        #expect(incremental.lines == WrappedText(text, width: width).lines)
        for line in incremental.lines where line.count > 1 { #expect(TextWidth.columns(of: line) <= width, "\(line)") }
    }

    @Test func wrapBreaksAtSpaces() {
        #expect(WrappedText("one two three four", width: 9).lines == ["one two", "three", "four"])
        #expect(WrappedText("abcdefghij", width: 4).lines == ["abcd", "efgh", "ij"])
        #expect(WrappedText("a\nb", width: 4).lines == ["a", "b"])
    }

    @Test func widths() {
        #expect(TextWidth.columns(of: "abc") == 3)
        #expect(TextWidth.columns(of: "日本") == 4)
        #expect(TextWidth.columns(of: "e\u{301}") == 1)
        #expect(TextWidth.columns(of: "🙂") == 2)
        var buffer = CellBuffer(size: Size(width: 5, height: 1))
        #expect(buffer.put("a日本", x: 0, y: 0, style: .plain) == 5)
        #expect(buffer.lines == ["a日本"])
        var clipped = CellBuffer(size: Size(width: 4, height: 1))
        clipped.put("a日本", x: 0, y: 0, style: .plain)
        #expect(clipped.lines == ["a日 "], "a wide character is not split at the edge")
    }

    @Test func diffSendsOnlyChanges() {
        var old = CellBuffer(size: Size(width: 10, height: 2))
        old.put("hello", x: 0, y: 0, style: .plain)
        var new = old
        new.put("J", x: 0, y: 0, style: .plain)
        new.put("日", x: 5, y: 1, style: .plain)
        let runs = diff(from: old, to: new)
        #expect(runs == [CellRun(origin: Point(x: 0, y: 0), cells: [Cell("J")]),
                         CellRun(origin: Point(x: 5, y: 1), cells: [Cell("日"), Cell("")])])
        #expect(diff(from: new, to: new).isEmpty)
        #expect(diff(from: nil, to: new).reduce(0) { $0 + $1.cells.count } == 20)
    }

    @Test func coloursFollowTheTerminal() {
        let orange = Color.rgb(255, 135, 0)
        #expect(orange.adapted(to: .trueColor) == orange)
        #expect(orange.adapted(to: .xterm256) == .indexed(208))
        #expect(Color.rgb(128, 128, 128).adapted(to: .xterm256) == .indexed(244))
        #expect(Color.rgb(250, 10, 10).adapted(to: .ansi16) == .ansi(9))
        #expect(orange.adapted(to: .none) == .terminal)
        #expect(Color.ansi(3).adapted(to: .xterm256) == .ansi(3))
    }

    @Test func previewKeepsTheAspectRatio() {
        let wide = PreviewImage(width: 8, height: 2, pixels: Array(repeating: 128, count: 48))
        let cells = wide.halfBlocks(columns: 8, rows: 8, colors: .trueColor)
        #expect(cells.count == 1 && cells[0].count == 8)
        let rows = sampleImage.halfBlocks(columns: 20, rows: 4, colors: .trueColor)
        #expect(rows.count == 4 && rows[0].count == 8)
        #expect(rows[0][0].style == Style(foreground: .rgb(255, 0, 0), background: .rgb(255, 0, 0)))
        #expect(rows[3][7].style.foreground == .rgb(255, 255, 255))
        #expect(sampleImage.halfBlocks(columns: 4, rows: 2, colors: .xterm256)[0][0].style.foreground == .indexed(196))
    }

    @Test func noColorDrawsThePreviewAsText() {
        let state = AppState(size: Size(width: 100, height: 30), colors: .none, imagePath: "cat.png", image: sampleImage)
        let lines = View().render(state).buffer.lines
        #expect(lines[0].hasPrefix("[cat.png 4×4]"))
        #expect(!lines.joined().contains("▀"))
    }

    static let themesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Themes").standardized.path

    @Test(arguments: ["dark", "light", "ansi", "high-contrast", "solarized"])
    func bundledThemesLoad(name: String) throws {
        let theme = try Theme.load(named: name, paths: [Self.themesFolder])
        #expect(theme.name == name)
        #expect(theme.stages.count == 4)
    }

    @Test func ansiThemeUsesTheTerminalPalette() throws {
        let theme = try Theme.load(named: "ansi", paths: [Self.themesFolder])
        let colors = [theme.text, theme.muted, theme.accent] + theme.stages.values
        #expect(colors.allSatisfy { if case .rgb = $0 { false } else if case .indexed = $0 { false } else { true } })
        #expect(theme.muted == .ansi(8))
    }

    @Test func userThemesComeFirstAndErrorsNameTheFile() throws {
        let folder = temporaryFolder()
        let text = try String(contentsOfFile: Self.themesFolder + "/dark.toml", encoding: .utf8)
            .replacingOccurrences(of: "name = \"dark\"", with: "name = \"mine\"")
        try text.write(to: folder.appendingPathComponent("dark.toml"), atomically: true, encoding: .utf8)
        #expect(try Theme.load(named: "dark", paths: [folder.path, Self.themesFolder]).name == "mine")
        let bad = text.replacingOccurrences(of: "accent = \"#88c0d0\"", with: "accent = \"sky\"")
        try bad.write(to: folder.appendingPathComponent("bad.toml"), atomically: true, encoding: .utf8)
        #expect(throws: ThemeError("\(folder.path)/bad.toml: [ui] accent = 'sky' is not a colour (default, a name such as red, ansi:N, 0–255 or #rrggbb).")) {
            try Theme.load(named: "bad", paths: [folder.path])
        }
        #expect(throws: ThemeError.self) { try Theme(toml: "name = [", source: "broken.toml") }
        do {
            _ = try Theme.load(named: "nope", paths: [Self.themesFolder])
            Issue.record("no error")
        } catch let error as ThemeError {
            #expect(error.description.hasPrefix("There is no theme named 'nope' (themes: ansi, dark, high-contrast, light, solarized)"))
        }
    }
}

@Test func controlCharactersAreNeverDrawnRaw() {
    var buffer = CellBuffer(size: Size(width: 6, height: 1))
    buffer.put("a\u{05}b\u{1b}c", x: 0, y: 0, style: .plain)
    #expect(buffer.lines == ["a\u{FFFD}b\u{FFFD}c "])
    #expect(TextWidth.columns(of: "a\u{05}b") == 3)
}

@Test func renderingATokenSendsFewCells() {
    // Every stage expanded and the answer scrolling: a token changes a line, or scrolls the
    // conversation, never more than the screen.
    let result = RenderBenchmark.run(tokens: 400, size: Size(width: 80, height: 24))
    #expect(result.cellsPerToken < 80 * 22)
    #expect(result.cellsPerToken > 0)
}
