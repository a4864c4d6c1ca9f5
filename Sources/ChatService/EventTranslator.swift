import Reasoning
import TUI

/// Turns the engine's events into the TUI's. Stage-beam events pass through; greedy and
/// best-of-n stream whole answers (stage `answer`), which are cut into stages per candidate
/// with `StageParser`, so every strategy shows the same four stages.
struct EventTranslator {
    let events: @Sendable (BackendEvent) -> Void
    private var parsers: [StageParser] = []
    private var candidates = 1
    private var started: [Stage] = []
    /// Token events forwarded, per candidate and stage.
    private var counts: [[Stage: Int]] = []

    init(events: @escaping @Sendable (BackendEvent) -> Void) { self.events = events }

    mutating func handle(_ event: ReasoningEvent) {
        switch event {
        case .stageStarted(let stage, let count) where stage == "answer":
            candidates = count
            parsers = Array(repeating: StageParser(), count: count)
            counts = Array(repeating: [:], count: count)
        case .token(let stage, let candidate, let text) where stage == "answer":
            guard parsers.indices.contains(candidate) else { return }
            let parsed = parsers[candidate].feed(text)
            for piece in parsed { forward(piece, candidate: candidate) }
        case .candidateFinished(let stage, let candidate, _, _, _, _) where stage == "answer":
            guard parsers.indices.contains(candidate) else { return }
            for piece in parsers[candidate].finish() { forward(piece, candidate: candidate) }
            for stage in started {
                events(.candidateFinished(stage: stage.rawValue, candidate: candidate, tokens: counts[candidate][stage] ?? 0))
            }
        case .stageChosen(let stage, let candidate, let by, let scores) where stage == "answer":
            for stage in started where !(candidates == 1 && by != .stopped) {
                events(.stageChosen(stage: stage.rawValue, candidate: candidate, by: by.rawValue, scores: scores))
            }
        case .stageStarted(let stage, let count):
            events(.stageStarted(stage: stage, candidates: count))
        case .token(let stage, let candidate, let text):
            events(.token(stage: stage, candidate: candidate, text: text))
        case .candidateFinished(let stage, let candidate, _, let tokens, _, let cutAt):
            events(.candidateFinished(stage: stage, candidate: candidate, tokens: tokens, cutAt: cutAt))
        case .stageChosen(let stage, let candidate, let by, let scores):
            events(.stageChosen(stage: stage, candidate: candidate, by: by.rawValue, scores: scores))
        case .beamsKept:
            break
        }
    }

    private mutating func forward(_ event: StageEvent, candidate: Int) {
        switch event {
        case .opened(let stage):
            if !started.contains(stage) {
                started.append(stage)
                events(.stageStarted(stage: stage.rawValue, candidates: candidates))
            }
        case .text(let stage, let text):
            counts[candidate][stage, default: 0] += 1
            events(.token(stage: stage.rawValue, candidate: candidate, text: text))
        case .closed(let stage):
            // One pass: the stage is done as soon as it closes.
            if candidates == 1 { events(.stageChosen(stage: stage.rawValue, candidate: 0, by: "only", scores: [])) }
        }
    }
}
