import Foundation
import Testing
@testable import TUI

/// The key screens, as text snapshots of the cell grid (Snapshots/*.txt, compared exactly).
@Suite("screens")
struct SnapshotTests {
    /// A run held before its first stage, so the test feeds the stream itself, deterministically.
    static func heldApp(width: Int = 100, height: Int = 30) -> (ChatApp, MemoryTerminal) {
        var backend = ScriptedBackend(script: beamScript)
        backend.gate = { _ in false }
        return makeApp(width: width, height: height, backend: backend)
    }

    @Test func streaming() async {
        let (app, terminal) = Self.heldApp()
        app.ask("How many red shapes are there?")
        let feed: [BackendEvent] = [
            .stageStarted(stage: "summary", candidates: 2),
            .token(stage: "summary", candidate: 0, text: "I will count"),
            .token(stage: "summary", candidate: 1, text: "Count the red"),
            .token(stage: "summary", candidate: 0, text: " the red shapes."),
            .candidateFinished(stage: "summary", candidate: 0, tokens: 6),
            .candidateFinished(stage: "summary", candidate: 1, tokens: 3),
            .stageChosen(stage: "summary", candidate: 0, by: "judge", scores: [-0.2, -0.9]),
            .stageStarted(stage: "caption", candidates: 2),
            .token(stage: "caption", candidate: 0, text: "\nA red square at the top left, a green square"),
            .token(stage: "caption", candidate: 0, text: " beside it, 日本 wide text, and a blue one"),
        ]
        for event in feed { app.dispatch(.backend(turn: 0, branch: 0, event)) }
        app.step()
        expectSnapshot(terminal, "streaming")
        #expect(terminal.text.contains("▾ Caption · streaming · ◀ 1/2 ▶ · 2 tok"))
        app.send(.key(.escape))
        await app.settle()
    }

    @Test func collapsedAfterAnswer() async {
        let (app, terminal) = makeApp()
        app.ask("How many red shapes are there?")
        #expect(await app.settle())
        expectSnapshot(terminal, "collapsed")
        for header in ["▸ Summary · done · ◀ 1/2 ▶", "▸ Caption · done", "▸ Reasoning · done", "▾ Conclusion · done"] {
            #expect(terminal.text.contains(header), "missing \(header)")
        }
    }

    @Test func compareView() async {
        let (app, terminal) = makeApp()
        app.ask("How many red shapes are there?")
        #expect(await app.settle())
        app.send([.tab, .tab, .control("x")])
        app.step()
        expectSnapshot(terminal, "compare")
        #expect(terminal.text.contains("Caption · 2 candidates · judge: logprob"))
    }

    @Test func manualPick() async {
        let (app, terminal) = makeApp(settings: ChatSettings(strategy: "stage-beam", beam: 2, judge: "manual"))
        app.ask("How many red shapes are there?")
        #expect(await app.run(until: { $0.pendingPick != nil }))
        expectSnapshot(terminal, "manual-pick")
        app.send(.key(.character("2")))
        #expect(await app.run(until: { $0.pendingPick?.stage == "caption" }))
        #expect(app.state.turns[0].branch.stages[0].chosen == 1)
        app.send([.right, .enter])
        #expect(await app.run(until: { $0.pendingPick?.stage == "reasoning" }))
        #expect(app.state.turns[0].branch.stages[1].chosen == 1)
        app.send(.key(.character("1")))
        #expect(await app.run(until: { $0.pendingPick?.stage == "conclusion" }))
        app.send(.key(.character("1")))
        #expect(await app.settle())
        #expect(app.state.turns[0].branch.stages.map(\.by) == ["user", "user", "user", "user"])
    }

    @Test func narrowTerminal() async {
        let (app, terminal) = makeApp(width: 40, height: 12)
        app.ask("How many red shapes?")
        #expect(await app.settle())
        expectSnapshot(terminal, "narrow")
        #expect(terminal.text.contains("One."))
    }

    @Test func stackedCompareWhenNarrow() async {
        let (app, terminal) = makeApp(width: 40, height: 16, image: nil)
        app.ask("How many red shapes?")
        #expect(await app.settle())
        app.send([.backTab, .control("x")])
        app.step()
        expectSnapshot(terminal, "compare-stacked")
    }

    @Test func help() async {
        let (app, terminal) = makeApp()
        app.send(.key(.character("?")))
        app.step()
        expectSnapshot(terminal, "help")
        #expect(app.state.overlay == .help)
        app.send(.key(.character("x")))
        #expect(app.state.overlay == nil)
        #expect(app.state.input.isEmpty, "the key that closes help is not typed")
    }
}
