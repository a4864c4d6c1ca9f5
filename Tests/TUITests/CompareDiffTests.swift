import Foundation
import Testing
@testable import TUI

@Suite("word diff")
struct WordDiffTests {
    /// The words of `text` that `WordDiff` marks against `reference`.
    static func changed(_ text: String, _ reference: String) -> [String] {
        let flags = WordDiff.changedCharacters(in: text, against: reference)
        return WordDiff.words(of: text).filter { flags[$0.range.lowerBound] }.map { String($0.word) }
    }

    @Test func oneWordApart() {
        #expect(Self.changed("a small green triangle", "a small green circle") == ["triangle"])
        #expect(Self.changed("a small green circle", "a small green circle").isEmpty)
        let flags = WordDiff.changedCharacters(in: "a small green triangle", against: "a small green circle")
        #expect(flags == Array(repeating: false, count: 14) + Array(repeating: true, count: 8))
    }

    @Test func insertionsAndDeletions() {
        #expect(Self.changed("a small red square at the top", "a square at the top") == ["small", "red"])
        #expect(Self.changed("a square", "a small red square at the top").isEmpty)
        #expect(Self.changed("two  words\nhere", "") == ["two", "words", "here"])
        #expect(Self.changed("", "anything").isEmpty)
    }

    @Test func aLongestCommonSubsequenceIsKept() {
        // Either "two" or "three" is in a longest common subsequence; exactly one is marked.
        #expect(Self.changed("one two three four", "one three two four").count == 1)
        #expect(Self.changed("x a b c y", "p a b c q") == ["x", "y"])
        #expect(Self.changed("red, green and blue.", "red, blue and green.") == ["green", "blue."])
        // Words put in place of others line up with them.
        #expect(Self.changed("There are 2 diamonds and 0 triangles. In total 2 + 0 = 2.",
                             "There are 0 diamonds and 1 triangle. In total 0 + 1 = 1.")
                == ["2", "0", "triangles.", "2", "0", "2."])
        #expect(Self.changed("x + y", "y + z") == ["x", "y"])
    }

    @Test func longTextsAreMarkedBetweenTheirCommonEnds() {
        let middle = (0..<600).map { "w\($0)" }.joined(separator: " ")
        let other = (0..<600).map { "v\($0)" }.joined(separator: " ")
        let changed = Self.changed("start " + middle + " end", "start " + other + " end")
        #expect(changed.count == 600 && changed.first == "w0" && !changed.contains("start") && !changed.contains("end"))
    }
}

@Suite("compare view: differences and cuts")
struct CompareDiffTests {
    static let texts = ["A small green circle at the center.", "A small green triangle at the center.",
                        "A large red circle at the center."]

    static func state(chosen: Int?, selected: Int = 0, cutAt: [String?] = [], colors: ColorSupport = .trueColor) -> AppState {
        var state = AppState(size: Size(width: 100, height: 20), colors: colors)
        var turn = Turn(question: "What is at the center?")
        var stage = StageState(name: .caption)
        stage.candidates = texts.enumerated().map { index, text in
            CandidateState(text: text, tokens: 7, finished: true, cutAt: index < cutAt.count ? cutAt[index] : nil)
        }
        stage.chosen = chosen
        stage.phase = chosen == nil ? .choosing : .done
        turn.branches[0].stages[1] = stage
        state.turns = [turn]
        state.overlay = .compare(stage: 1, selected: selected, manual: chosen == nil)
        return state
    }

    /// The cells of the first `text` on the screen (rows of single-width characters only).
    static func cells(of text: String, in buffer: CellBuffer) -> [Cell]? {
        for (y, line) in buffer.lines.enumerated() {
            guard let range = line.range(of: text) else { continue }
            let x = line.distance(from: line.startIndex, to: range.lowerBound)
            return (0..<text.count).map { buffer[x + $0, y] }
        }
        return nil
    }

    @Test func differingWordsAreDrawnInTheDiffStyle() throws {
        let theme = Theme.fallback
        let buffer = View().render(Self.state(chosen: 0)).buffer
        let body = theme.body(.caption)
        // The chosen candidate is plain.
        let chosen = try #require(Self.cells(of: "A small green circle at the", in: buffer))
        #expect(chosen.allSatisfy { $0.style == body })
        // Candidate 2: "triangle" only.
        #expect(try #require(Self.cells(of: "triangle", in: buffer)).allSatisfy { $0.style == theme.diffStyle })
        let second = try #require(Self.cells(of: "green triangle at", in: buffer))
        #expect(second.prefix(6).allSatisfy { $0.style == body } && second[6].style == theme.diffStyle)
        #expect(second.suffix(3).allSatisfy { $0.style == body })
        // Candidate 3: "large red", the space between them included, and nothing else.
        let third = try #require(Self.cells(of: "A large red circle", in: buffer))
        #expect(third.prefix(2).allSatisfy { $0.style == body })
        #expect(third[2..<11].allSatisfy { $0.style == theme.diffStyle })
        #expect(third.suffix(7).allSatisfy { $0.style == body })
        #expect(!buffer.lines.joined().contains("["))
        #expect(theme.diffStyle.foreground == theme.diff && theme.diffStyle.underline)
    }

    @Test func noColorBracketsTheDifferences() {
        let lines = View().render(Self.state(chosen: 0, colors: .none)).buffer.lines.joined(separator: "\n")
        #expect(lines.contains("A small green [triangle] at"))
        #expect(lines.contains("A [large red] circle at the"))
        #expect(lines.contains("A small green circle at the"))
        #expect(lines.components(separatedBy: "[").count == 3, "the chosen candidate has no marks")
    }

    @Test func duringAManualPickTheSelectedCandidateIsTheReference() throws {
        let buffer = View().render(Self.state(chosen: nil, selected: 1, colors: .none)).buffer
        let text = buffer.lines.joined(separator: "\n")
        #expect(text.contains("A small green [circle] at"))
        #expect(text.contains("A small green triangle at"))
        #expect(text.contains("A [large red circle] at"))
    }

    @Test func aCutCandidateSaysWhereItWasCut() throws {
        let colour = View().render(Self.state(chosen: 0, cutAt: [nil, "</SUMMARY>"])).buffer
        #expect(colour.lines.filter { $0.contains("✂ cut at </SUMMARY>") }.count == 1)
        let plain = View().render(Self.state(chosen: 0, cutAt: [nil, "</SUMMARY>"], colors: .none)).buffer
        let text = plain.lines.joined(separator: "\n")
        #expect(text.contains("(cut at </SUMMARY>)") && !text.contains("✂"))
        #expect(try #require(Self.cells(of: "(cut at </SUMMARY>)", in: plain)).allSatisfy { $0.style == Theme.fallback.errorStyle })
        // The marker takes the row under the head; the text follows it.
        let row = try #require(plain.lines.firstIndex { $0.contains("(cut at </SUMMARY>)") })
        #expect(plain.lines[row - 1].contains("2 · 7 tok") && plain.lines[row + 1].contains("A small green [triangle]"))
        #expect(!View().render(Self.state(chosen: 0)).buffer.lines.joined().contains("cut at"))
    }

    @Test func theCutFlagArrivesWithTheBackendEvent() async {
        var backend = ScriptedBackend(script: beamScript)
        backend.gate = { _ in false }
        let (app, _) = makeApp(backend: backend)
        app.ask("How many red shapes are there?")
        let feed: [BackendEvent] = [
            .stageStarted(stage: "summary", candidates: 2),
            .token(stage: "summary", candidate: 0, text: "Count the red shapes."),
            .token(stage: "summary", candidate: 1, text: "Count them and then"),
            .candidateFinished(stage: "summary", candidate: 0, tokens: 5),
            .candidateFinished(stage: "summary", candidate: 1, tokens: 9, cutAt: "<REASONING>"),
            .stageChosen(stage: "summary", candidate: 0, by: "judge", scores: [-0.2, -0.9]),
        ]
        for event in feed { app.dispatch(.backend(turn: 0, branch: 0, event)) }
        #expect(app.state.turns[0].branch.stages[0].candidates.map(\.cutAt) == [nil, "<REASONING>"])
        var state = app.state
        state.overlay = .compare(stage: 0, selected: 0, manual: false)
        let text = View().render(state).buffer.lines.joined(separator: "\n")
        #expect(text.contains("✂ cut at <REASONING>"))
        app.send(.key(.escape))
        await app.settle()
    }

    @Test func themesSetTheDiffColourAndOlderThemesFallBackToTheErrorColour() throws {
        let folder = UnitTests.themesFolder
        for name in ["dark", "light", "ansi", "high-contrast", "solarized"] {
            let text = try String(contentsOfFile: folder + "/\(name).toml", encoding: .utf8)
            #expect(text.contains("\ndiff = "), "\(name) sets diff")
            let theme = try Theme(toml: text, source: name)
            #expect(theme.diff != theme.stages[.caption] && theme.diff != .terminal, "\(name)")
        }
        let dark = try String(contentsOfFile: folder + "/dark.toml", encoding: .utf8)
        let older = dark.split(separator: "\n").filter { !$0.hasPrefix("diff") }.joined(separator: "\n")
        let theme = try Theme(toml: older, source: "older.toml")
        #expect(theme.diff == theme.error && theme.diff == .rgb(0xff, 0x6b, 0x6b))
        #expect(try Theme(toml: dark, source: "dark.toml").diff == .rgb(0xd0, 0x87, 0x70))
    }
}
