import Foundation
import Testing
@testable import TUI

/// A backend that plays a script: per stage, the candidates' texts, streamed a word at a time
/// (candidates interleaved, as a batch decodes them). The manual judge asks `pick`; the others
/// take candidate `automaticChoice`. Stops (returning `stopped`) when cancelled; throws
/// `failure` at stage `failAt`.
struct ScriptedBackend: ChatBackend {
    struct Failure: Error, CustomStringConvertible { var description: String }

    var modelName = "scripted"
    var script: [(StageName, [String])]
    var automaticChoice = 0
    var failAt: StageName?
    /// Pause per word, so tests can act while it streams.
    var wordDelay: UInt64 = 0
    /// Waits before each stage until this returns true (polled), to hold a run mid-stream.
    var gate: (@Sendable (StageName) -> Bool)?

    func loadImage(path: String, progress: @escaping @Sendable (String) -> Void) async throws -> PreviewImage {
        guard path.hasSuffix(".ppm") || path == "sample" else { throw Failure(description: "\(path): not an image.") }
        return sampleImage
    }

    func ask(turn: Int, question: String, settings: ChatSettings, pick: @escaping @Sendable (PickRequest) async throws -> Int,
             events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary {
        try await play(from: 0, settings: settings, pick: pick, events: events, marker: "")
    }

    func branch(turn: Int, from: Int, stage: String, candidate: Int, settings: ChatSettings,
                pick: @escaping @Sendable (PickRequest) async throws -> Int,
                events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary {
        let index = StageName.allCases.firstIndex(of: StageName(rawValue: stage)!)!
        events(.stageChosen(stage: stage, candidate: candidate, by: "user", scores: []))
        return try await play(from: index + 1, settings: settings, pick: pick, events: events, marker: " (again)")
    }

    private func play(from first: Int, settings: ChatSettings, pick: @escaping @Sendable (PickRequest) async throws -> Int,
                      events: @escaping @Sendable (BackendEvent) -> Void, marker: String) async throws -> AnswerSummary {
        var tokens = 0
        for (stage, candidates) in script.dropFirst(first) {
            if let gate { while !gate(stage) { if Task.isCancelled { break }; try? await Task.sleep(nanoseconds: 1_000_000) } }
            if Task.isCancelled { return AnswerSummary(generatedTokens: tokens, seconds: 1, stopped: true) }
            if stage == failAt { throw Failure(description: "The model ran out of context at the \(stage.rawValue) stage.") }
            events(.stageStarted(stage: stage.rawValue, candidates: candidates.count))
            let words = candidates.map { ($0 + marker).split(separator: " ", omittingEmptySubsequences: false).map(String.init) }
            for index in 0..<(words.map(\.count).max() ?? 0) {
                for (candidate, list) in words.enumerated() where index < list.count {
                    if Task.isCancelled {
                        events(.stageChosen(stage: stage.rawValue, candidate: 0, by: "stopped", scores: []))
                        return AnswerSummary(generatedTokens: tokens, seconds: 1, stopped: true)
                    }
                    events(.token(stage: stage.rawValue, candidate: candidate, text: (index == 0 ? "" : " ") + list[index]))
                    tokens += 1
                    if wordDelay > 0 { try? await Task.sleep(nanoseconds: wordDelay) }
                }
            }
            for (candidate, list) in words.enumerated() {
                events(.candidateFinished(stage: stage.rawValue, candidate: candidate, tokens: list.count))
            }
            if candidates.count == 1 {
                events(.stageChosen(stage: stage.rawValue, candidate: 0, by: "only", scores: []))
            } else if settings.judge == "manual" {
                let chosen: Int
                do {
                    chosen = try await pick(PickRequest(stage: stage.rawValue, candidates: candidates.count))
                } catch is CancellationError {
                    events(.stageChosen(stage: stage.rawValue, candidate: 0, by: "stopped", scores: []))
                    return AnswerSummary(generatedTokens: tokens, seconds: 1, stopped: true)
                }
                events(.stageChosen(stage: stage.rawValue, candidate: chosen, by: "user", scores: []))
            } else {
                let scores = candidates.indices.map { -0.25 * Double($0 + 1) }
                events(.stageChosen(stage: stage.rawValue, candidate: automaticChoice, by: "judge", scores: scores))
            }
        }
        return AnswerSummary(generatedTokens: tokens, seconds: 2, stopped: false)
    }
}

/// A 4 × 4 test card: red, green, blue and white quarters.
let sampleImage: PreviewImage = {
    var pixels: [UInt8] = []
    for y in 0..<4 {
        for x in 0..<4 {
            let quarter = (y / 2) * 2 + x / 2
            pixels += [[255, 0, 0], [0, 200, 0], [0, 0, 255], [255, 255, 255]][quarter]
        }
    }
    return PreviewImage(width: 4, height: 4, pixels: pixels)
}()

let beamScript: [(StageName, [String])] = [
    (.summary, ["I will look at the shapes and count the red ones.", "Count the red shapes in the picture."]),
    (.caption, ["A red square at the top left, a green square beside it, a blue one below.",
                "Four coloured squares: red, green, blue and white."]),
    (.reasoning, ["Only the top-left square is red, so there is one red shape.",
                  "Red appears once; the other squares are green, blue and white."]),
    (.conclusion, ["One.", "There is one red shape."]),
]

let greedyScript: [(StageName, [String])] = beamScript.map { ($0.0, [$0.1[0]]) }

/// A temporary folder for preferences and sessions.
func temporaryFolder() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-tui-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func makeApp(width: Int = 100, height: Int = 30, backend: ScriptedBackend = ScriptedBackend(script: beamScript),
             settings: ChatSettings = ChatSettings(strategy: "stage-beam", beam: 2, judge: "logprob"),
             image: PreviewImage? = sampleImage, colors: ColorSupport = .trueColor) -> (ChatApp, MemoryTerminal) {
    let terminal = MemoryTerminal(size: Size(width: width, height: height), colors: colors)
    let folder = temporaryFolder()
    let state = AppState(size: terminal.size, theme: .fallback, settings: settings, modelName: "ponder-demo",
                         imagePath: image == nil ? nil : "sample.ppm", image: image)
    let app = ChatApp(state: state, terminal: terminal, backend: backend,
                      preferencesFile: folder.appendingPathComponent("preferences.json"),
                      sessionDirectory: folder.appendingPathComponent("sessions"))
    app.ticks = false
    return (app, terminal)
}

extension ChatApp {
    /// Types a question and sends it.
    func ask(_ question: String) {
        type(question)
        send(.key(.enter))
    }
}

/// Compares the screen with `Snapshots/NAME.txt` exactly. A missing snapshot (or
/// PONDER_RECORD_SNAPSHOTS=1) writes it and fails, so a snapshot is never silently accepted.
func expectSnapshot(_ terminal: MemoryTerminal, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let file = folder.appendingPathComponent(name + ".txt")
    let actual = terminal.text + "\n"
    let record = ProcessInfo.processInfo.environment["PONDER_RECORD_SNAPSHOTS"] == "1"
    guard !record, let expected = try? String(contentsOf: file, encoding: .utf8) else {
        try? actual.write(to: file, atomically: true, encoding: .utf8)
        Issue.record("Recorded snapshot \(name); check it and run again.", sourceLocation: sourceLocation)
        return
    }
    if expected != actual {
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let firstDifference = zip(expectedLines, actualLines).enumerated().first { $0.element.0 != $0.element.1 }
        let detail = firstDifference.map { "row \($0.offset): expected\n\($0.element.0)\ngot\n\($0.element.1)" } ?? "row counts differ"
        Issue.record("Snapshot \(name) differs at \(detail)\n--- screen ---\n\(actual)", sourceLocation: sourceLocation)
    }
}
