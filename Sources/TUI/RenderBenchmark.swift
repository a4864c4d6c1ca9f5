import Foundation

/// Measures what drawing costs per streamed token: a long answer is fed token by token into
/// the app on an in-memory terminal, each token followed by a frame (the worst case: the run
/// loop coalesces tokens that arrive within one frame).
public enum RenderBenchmark {
    public struct Result: Sendable {
        public var tokens: Int
        public var size: Size
        public var microsecondsPerToken: Double
        /// Cells sent to the terminal per token (the diff's output).
        public var cellsPerToken: Double
    }

    /// A backend that answers nothing until it is stopped; the benchmark feeds the events.
    struct Held: ChatBackend {
        var modelName: String { "bench" }
        func loadImage(path: String, progress: @escaping @Sendable (String) -> Void) async throws -> PreviewImage { PreviewImage(width: 0, height: 0, pixels: []) }
        func ask(turn: Int, question: String, settings: ChatSettings, pick: @escaping @Sendable (PickRequest) async throws -> Int,
                 events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary {
            while !Task.isCancelled { try? await Task.sleep(nanoseconds: 5_000_000) }
            return AnswerSummary(generatedTokens: 0, seconds: 0, stopped: true)
        }
        func branch(turn: Int, from: Int, stage: String, candidate: Int, settings: ChatSettings,
                    pick: @escaping @Sendable (PickRequest) async throws -> Int,
                    events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary {
            try await ask(turn: turn, question: "", settings: settings, pick: pick, events: events)
        }
    }

    /// Feeds `tokens` tokens (10% summary, 20% caption, 60% reasoning, 10% conclusion; words of
    /// 1–9 letters, a paragraph break every 80 tokens) with every stage expanded, so the whole
    /// answer is on screen and scrolls.
    public static func run(tokens: Int = 5000, size: Size = Size(width: 120, height: 40),
                           image: PreviewImage? = nil) -> Result {
        let terminal = MemoryTerminal(size: size)
        var state = AppState(size: size, theme: .fallback, settings: ChatSettings(strategy: "greedy"),
                             preferences: Preferences(expandStages: true), modelName: "bench", imagePath: "bench.png",
                             image: image)
        state.input.insert("Describe the picture in detail.")
        let folder = FileManager.default.temporaryDirectory
        let app = ChatApp(state: state, terminal: terminal, backend: Held(),
                          preferencesFile: folder.appendingPathComponent("ponder-bench-preferences.json"),
                          sessionDirectory: folder)
        app.ticks = false
        app.send(.key(.enter))
        app.render()
        let shares: [(StageName, Double)] = [(.summary, 0.1), (.caption, 0.2), (.reasoning, 0.6), (.conclusion, 0.1)]
        var events: [BackendEvent] = []
        var seed: UInt64 = 42
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        var produced = 0
        for (index, (stage, share)) in shares.enumerated() {
            let count = index == shares.count - 1 ? tokens - produced : Int(Double(tokens) * share)
            events.append(.stageStarted(stage: stage.rawValue, candidates: 1))
            for token in 0..<count {
                let length = 1 + Int(next() % 9)
                let word = String((0..<length).map { _ in Character(Unicode.Scalar(UInt8(97 + next() % 26))) })
                events.append(.token(stage: stage.rawValue, candidate: 0, text: (token % 80 == 79 ? "\n\n" : " ") + word))
            }
            produced += count
            events.append(.stageChosen(stage: stage.rawValue, candidate: 0, by: "only", scores: []))
        }
        var cells = 0
        let start = DispatchTime.now().uptimeNanoseconds
        for event in events {
            app.dispatch(.backend(turn: 0, branch: 0, event))
            cells += app.render()
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
        app.send(.key(.escape))
        return Result(tokens: tokens, size: size, microsecondsPerToken: elapsed / Double(tokens),
                      cellsPerToken: Double(cells) / Double(tokens))
    }
}
