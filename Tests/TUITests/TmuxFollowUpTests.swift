import Foundation
import Testing

/// `ponder` as `make run` starts it (the bundled demo model and sample), under tmux: the sample
/// question, then a follow-up about the same image, each answered in four clean stages.
@Suite("ponder follow-up under tmux", .serialized)
struct TmuxFollowUpTests {
    static let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Models/demo").standardized

    struct Sample: Decodable {
        struct Turn: Decodable {
            let question: String
            let answer: String
        }
        let question: String
        let answer: String
        let followup: Turn
    }

    /// The lines of `screen` from the one that asks `question`: its four stage headers, all
    /// done, and the expanded conclusion's text. Nil until they are all there.
    static func answer(to question: String, in screen: String) -> (headers: [String], conclusion: String)? {
        // The conversation column: what follows the image panel's border, when it is shown.
        let lines = screen.components(separatedBy: "\n").map { line in
            line.range(of: "│ ").map { String(line[$0.upperBound...]) } ?? line
        }
        let probe = "› " + String(question.prefix(40))   // the question may wrap
        guard let start = lines.lastIndex(where: { $0.hasPrefix(probe) }) else { return nil }
        let rest = Array(lines[(start + 1)...])
        let names = ["Summary", "Caption", "Reasoning", "Conclusion"]
        var headers: [String] = []
        for name in names {
            guard let header = rest.first(where: { $0.hasPrefix("▸ \(name) ·") || $0.hasPrefix("▾ \(name) ·") }),
                  header.contains("· done") else { return nil }
            headers.append(header)
        }
        guard let conclusion = rest.firstIndex(where: { $0.hasPrefix("▾ Conclusion · done") }),
              conclusion + 1 < rest.count else { return nil }
        return (headers, rest[conclusion + 1].trimmingCharacters(in: .whitespaces))
    }

    @Test(.enabled(if: Tmux.available, "tmux is not installed: skipping the end-to-end test of a follow-up"))
    func sampleThenFollowUp() throws {
        let sample = try JSONDecoder().decode(Sample.self, from: Data(contentsOf: Self.demo.appendingPathComponent("sample.json")))
        let tmux = Tmux.Session("followup")
        defer { tmux.close() }
        let socket = tmux.socket
        // No model flags: the demo model, its sample image and its question in the input line.
        try tmux.start(["--threads", "1"], environment: ["NO_COLOR=1"], width: 110, height: 40)
        let (loaded, start) = TmuxEndToEndTests.waitFor(socket) { $0.contains("sample.jpg") && $0.contains("› " + sample.question.prefix(40)) }
        try #require(loaded, "the app did not open with the sample question:\n\(start)")

        Tmux.run(socket, ["send-keys", "-t", "ponder", "Enter"])
        let (first, firstScreen) = TmuxEndToEndTests.waitFor(socket, seconds: 120) {
            Self.answer(to: sample.question, in: $0) != nil
        }
        try #require(first, "the sample question was not answered in four stages:\n\(firstScreen)")
        #expect(Self.answer(to: sample.question, in: firstScreen)?.conclusion == sample.answer, "\(firstScreen)")

        tmux.ask(sample.followup.question)
        let (second, screen) = TmuxEndToEndTests.waitFor(socket, seconds: 120) {
            Self.answer(to: sample.followup.question, in: $0) != nil
        }
        try #require(second, "the follow-up was not answered in four stages:\n\(screen)")
        let followUp = try #require(Self.answer(to: sample.followup.question, in: screen))
        #expect(followUp.conclusion == sample.followup.answer, "\(screen)")
        // Clean: no stage tag leaked into what is shown, and every stage has text.
        #expect(!screen.contains("</") && !screen.contains("<SUMMARY>") && !screen.contains("<CAPTION>"), "\(screen)")
        for header in followUp.headers { #expect(!header.contains("· 0 tok"), "\(header)") }
    }
}
