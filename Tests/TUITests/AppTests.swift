import Foundation
import Testing
@testable import TUI

@Suite("app")
struct AppTests {
    @Test func allFourHeadersAppearAndAreFinalised() async {
        let (app, terminal) = makeApp()
        app.ask("What is red?")
        #expect(await app.settle())
        let stages = app.state.turns[0].branch.stages
        #expect(stages.map(\.phase) == [.done, .done, .done, .done])
        #expect(stages.map(\.chosen) == [0, 0, 0, 0])
        #expect(terminal.text.contains("One."))
        #expect(terminal.text.contains("› What is red?"))
    }

    @Test func escapeStopsAndKeepsWhatWasProduced() async {
        var backend = ScriptedBackend(script: beamScript)
        backend.gate = { $0 != .reasoning }
        let (app, terminal) = makeApp(backend: backend)
        app.ask("What is red?")
        #expect(await app.run(until: { $0.turns.first?.branch.stages[1].phase == .done }))
        app.send(.key(.escape))
        #expect(await app.settle())
        let stages = app.state.turns[0].branch.stages
        #expect(stages.map(\.phase) == [.done, .done, .stopped, .stopped])
        #expect(!app.state.isRunning)
        #expect(terminal.text.contains("▸ Reasoning · stopped"))
        #expect(terminal.text.contains("▾ Conclusion · stopped"))
        // Ctrl-C when idle arms, a second one quits.
        app.send(.key(.control("c")))
        #expect(!app.state.quit)
        app.send(.key(.control("c")))
        #expect(app.state.quit)
    }

    @Test func backendErrorShowsAndTheSessionGoesOn() async {
        var backend = ScriptedBackend(script: greedyScript)
        backend.failAt = .reasoning
        let (app, terminal) = makeApp(backend: backend, settings: ChatSettings())
        app.ask("First?")
        #expect(await app.settle())
        #expect(terminal.text.contains("! The model ran out of context at the reasoning stage."))
        #expect(app.state.turns[0].branch.stages.map(\.phase) == [.done, .done, .failed, .failed])
        app.ask("Second?")
        #expect(await app.settle())
        #expect(app.state.turns.count == 2)
        #expect(terminal.text.contains("› Second?"))
    }

    @Test func pickingAnotherCandidateBranchesAndKeepsTheOldBranch() async {
        let (app, terminal) = makeApp()
        app.ask("What is red?")
        #expect(await app.settle())
        app.send([.tab, .tab, .control("x"), .right, .enter])   // caption, candidate 2
        #expect(await app.settle())
        let turn = app.state.turns[0]
        #expect(turn.branches.count == 2 && turn.current == 1)
        #expect(turn.branch.from == BranchOrigin(branch: 0, stage: 1, candidate: 1))
        #expect(turn.branch.stages[1].chosen == 1 && turn.branch.stages[1].by == "user")
        #expect(turn.branch.stages[3].candidates[0].text == "One. (again)")
        #expect(terminal.text.contains("(branch 2/2)"))
        #expect(terminal.text.contains("One. (again)"))
        app.send(.key(.function(7)))
        app.step()
        #expect(app.state.turns[0].current == 0)
        #expect(!terminal.text.contains("One. (again)") && terminal.text.contains("One."))
    }

    @Test func toggleOneToggleAllAndRememberTheDefault() async throws {
        let (app, terminal) = makeApp()
        app.ask("What is red?")
        #expect(await app.settle())
        #expect(!terminal.text.contains("Four coloured") && !terminal.text.contains("A red square"))
        app.send([.tab, .tab, .control("o")])
        app.step()
        #expect(terminal.text.contains("▾ Caption"))
        #expect(terminal.text.contains("A red square at the top left"))
        app.send(.key(.control("o")))
        app.step()
        #expect(terminal.text.contains("▸ Caption"))
        app.send(.key(.control("t")))
        app.step()
        #expect(terminal.text.contains("▾ Summary") && terminal.text.contains("▾ Reasoning"))
        let saved = Preferences.load(from: app.preferencesFile)
        #expect(saved.expandStages)
        // A click on a header toggles that stage.
        let row = try #require(terminal.screen.lines.firstIndex { $0.contains("▾ Summary") })
        app.send(.click(Point(x: 40, y: row)))
        app.step()
        #expect(terminal.text.contains("▸ Summary"))
        // The conclusion never collapses.
        app.send([.backTab, .backTab, .backTab, .backTab, .backTab, .control("o")])
        app.step()
        #expect(app.state.focus == 3 && terminal.text.contains("▾ Conclusion"))
    }

    @Test func pinnedStageStaysOpenAfterItFinishes() async {
        var backend = ScriptedBackend(script: beamScript)
        backend.gate = { $0 != .caption }
        let (app, terminal) = makeApp(backend: backend)
        app.ask("What is red?")
        #expect(await app.run(until: { $0.turns.first?.branch.stages[0].phase == .done }))
        app.send([.tab, .control("g")])
        app.send(.key(.escape))
        #expect(await app.settle())
        #expect(terminal.text.contains("▾ Summary · done · ◀ 1/2 ▶ · 11 tok · pinned"))
        #expect(terminal.text.contains("I will look at the shapes"))
    }

    @Test func resizeWhileStreamingRelaysOut() async {
        var backend = ScriptedBackend(script: beamScript)
        backend.wordDelay = 300_000
        let (app, terminal) = makeApp(backend: backend)
        app.ask("What is red?")
        _ = await app.run(until: { $0.runTokens > 10 })
        terminal.resize(to: Size(width: 50, height: 14))
        app.send(terminal.read(timeoutMilliseconds: 0)[0])
        app.step()
        #expect(app.state.size == Size(width: 50, height: 14))
        terminal.resize(to: Size(width: 120, height: 40))
        app.send(.resize(terminal.size))
        #expect(await app.settle())
        #expect(terminal.screen.lines.count == 40 && terminal.screen.lines[0].count == 120)
        #expect(terminal.text.contains("One."))
        #expect(terminal.screen == app.screen)
    }

    @Test func incrementalDrawingMatchesAFullDrawing() async {
        var backend = ScriptedBackend(script: beamScript)
        backend.wordDelay = 100_000
        let (app, terminal) = makeApp(backend: backend)
        app.ask("What is red?")
        #expect(await app.settle())
        // The terminal only ever got the changed cells; it must show exactly the last frame.
        let full = View().render(app.state).buffer
        #expect(terminal.screen == full)
        // A token redraws a few cells, not the screen.
        let before = terminal.cellsWritten
        app.dispatch(.backend(turn: 0, branch: 0, .token(stage: "conclusion", candidate: 0, text: " Yes")))
        app.step()
        #expect(terminal.cellsWritten - before < 40)
    }

    @Test func inputLineEditingHistoryAndPaste() {
        var line = InputLine()
        line.insert("hello world")
        _ = line.edit(.control("w"))
        #expect(line.text == "hello ")
        _ = line.edit(.control("a"))
        line.insert(">")
        #expect(line.text == ">hello " && line.cursor == 1)
        _ = line.edit(.control("k"))
        #expect(line.text == ">")
        _ = line.edit(.control("y"))
        #expect(line.text == ">hello ")
        _ = line.edit(.backspace)
        _ = line.edit(.home)
        _ = line.edit(.delete)
        #expect(line.text == "hello")
        #expect(line.take() == "hello")
        line.insert("second")
        #expect(line.take() == "second")
        line.insert("draft")
        _ = line.edit(.up)
        #expect(line.text == "second")
        _ = line.edit(.up)
        #expect(line.text == "hello")
        _ = line.edit(.down)
        _ = line.edit(.down)
        #expect(line.text == "draft")
        var state = AppState(size: Size(width: 80, height: 24))
        _ = state.update(.input(.paste("two\nlines")))
        #expect(state.input.text == "two lines")
        #expect(state.turns.isEmpty, "a pasted newline does not send")
    }

    @Test func commandsChangeSettings() {
        var state = AppState(size: Size(width: 80, height: 24))
        for (command, check) in [("/strategy stage-beam", { (s: AppState) in s.settings.strategy == "stage-beam" }),
                                 ("/beam 3", { $0.settings.beam == 3 }), ("/judge manual", { $0.settings.judge == "manual" }),
                                 ("/temp 0.7", { $0.settings.temperature == 0.7 })] {
            state.input.insert(command)
            #expect(state.update(.input(.key(.enter))).isEmpty)
            #expect(check(state), "\(command)")
        }
        state.input.insert("/beam 0")
        _ = state.update(.input(.key(.enter)))
        #expect(state.settings.beam == 3 && state.notice == "/beam takes a number from 1 to 9.")
        state.input.insert("/image ~/x.png")
        #expect(state.update(.input(.key(.enter))) == [.loadImage(PathCompletion.expand("~/x.png"))])
    }

    @Test func serverCommandConnectsAndRenamesTheModel() {
        var state = AppState(size: Size(width: 80, height: 24), modelName: "demo")
        state.input.insert("/server")
        #expect(state.update(.input(.key(.enter))).isEmpty && state.notice?.hasPrefix("/server needs a URL") == true)
        state.input.insert("/server http://127.0.0.1:8000")
        #expect(state.update(.input(.key(.enter))) == [.connect(server: "http://127.0.0.1:8000")])
        _ = state.update(.serverConnected(model: "tiny @ http://127.0.0.1:8000"))
        #expect(state.modelName == "tiny @ http://127.0.0.1:8000")
        _ = state.update(.serverFailed("Nothing is listening at http://127.0.0.1:9 (connection refused)."))
        #expect(state.modelName == "tiny @ http://127.0.0.1:8000" && state.notice?.hasPrefix("Nothing is listening") == true)
    }

    @Test func serverCommandOnABackendThatCannotSwitch() async {
        let (app, _) = makeApp(image: nil)
        app.type("/server http://127.0.0.1:8000")
        app.send(.key(.enter))
        #expect(await app.settle())
        #expect(app.state.notice == "This chat cannot switch to a server.")
    }

    @Test func imageCommandLoadsOrReportsAnError() async {
        let (app, terminal) = makeApp(image: nil)
        app.type("/image other.png")
        app.send(.key(.enter))
        #expect(await app.settle())
        #expect(app.state.notice == "other.png: not an image.")
        #expect(terminal.text.contains("other.png: not an image."))
        app.type("/image new.ppm")
        app.send(.key(.enter))
        #expect(await app.settle())
        #expect(app.state.image == sampleImage && app.state.imagePath == "new.ppm")
        #expect(terminal.text.contains("▀"))
    }

    @Test func pathCompletion() throws {
        let folder = temporaryFolder()
        try Data().write(to: folder.appendingPathComponent("picture-one.png"))
        try Data().write(to: folder.appendingPathComponent("picture-two.png"))
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("shots"), withIntermediateDirectories: true)
        #expect(PathCompletion.complete(folder.path + "/pic") == folder.path + "/picture-")
        #expect(PathCompletion.complete(folder.path + "/picture-o") == folder.path + "/picture-one.png")
        #expect(PathCompletion.complete(folder.path + "/sh") == folder.path + "/shots/")
        var state = AppState(size: Size(width: 80, height: 24))
        state.input.insert("/image " + folder.path + "/sh")
        _ = state.update(.input(.key(.tab)))
        #expect(state.input.text == "/image " + folder.path + "/shots/")
    }

    @Test func sessionsSaveAtomicallyAndLoad() async throws {
        let (app, _) = makeApp()
        app.ask("What is red?")
        #expect(await app.settle())
        app.type("/save mine")
        app.send(.key(.enter))
        let file = app.sessionDirectory.appendingPathComponent("mine.json")
        #expect(FileManager.default.fileExists(atPath: file.path))
        let saved = try Session.load(from: file)
        #expect(saved.turns == app.state.turns)
        let (other, terminal) = makeApp()
        other.sessionDirectory = app.sessionDirectory
        other.type("/load mine")
        other.send(.key(.enter))
        #expect(await other.settle())
        #expect(other.state.turns == app.state.turns)
        #expect(terminal.text.contains("One."))
        other.type("/load missing")
        other.send(.key(.enter))
        #expect(other.state.notice?.hasPrefix("Cannot load") == true)
    }

    @Test func regenerateAsksAgain() async {
        let (app, _) = makeApp()
        app.ask("What is red?")
        #expect(await app.settle())
        app.send(.key(.control("r")))
        #expect(await app.settle())
        #expect(app.state.turns.map(\.question) == ["What is red?", "What is red?"])
    }

    @Test func typingStaysResponsiveWhileStreaming() async {
        var backend = ScriptedBackend(script: beamScript)
        backend.wordDelay = 2_000_000
        let (app, _) = makeApp(backend: backend)
        app.ask("What is red?")
        app.type("next question")
        #expect(app.state.input.text == "next question")
        app.send(.key(.enter))
        #expect(app.state.turns.count == 1 && app.state.notice == "An answer is being generated; Esc stops it.")
        app.send(.key(.escape))
        #expect(await app.settle())
    }
}
