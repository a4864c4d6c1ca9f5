import Inference
import Testing
@testable import Reasoning

@Suite("Stage parser")
struct StageParserTests {
    /// Merges consecutive text events of one stage, so that streams split differently compare equal.
    static func normalized(_ events: [StageEvent]) -> [StageEvent] {
        var result: [StageEvent] = []
        for event in events {
            if case .text(let stage, let piece) = event, case .text(let last, let previous)? = result.last, last == stage {
                result[result.count - 1] = .text(stage, previous + piece)
            } else {
                result.append(event)
            }
        }
        return result
    }

    static let answer = """
        <SUMMARY>I will count the apples.</SUMMARY>
        <CAPTION>Three red apples on a table; a<b test.</CAPTION>
        <REASONING>1 + 1 + 1 = 3 < 4.</REASONING>
        <CONCLUSION>3</CONCLUSION>
        """

    @Test("a whole LLaVA-CoT answer gives the four stages in order, tags removed")
    func wholeAnswer() {
        let events = Self.normalized(StageParser.parse(Self.answer))
        #expect(events == [
            .opened(.summary), .text(.summary, "I will count the apples."), .closed(.summary),
            .opened(.caption), .text(.caption, "Three red apples on a table; a<b test."), .closed(.caption),
            .opened(.reasoning), .text(.reasoning, "1 + 1 + 1 = 3 < 4."), .closed(.reasoning),
            .opened(.conclusion), .text(.conclusion, "3"), .closed(.conclusion),
        ])
        #expect(StageParser.stages(of: Self.answer) == [.summary: "I will count the apples.",
                                                        .caption: "Three red apples on a table; a<b test.",
                                                        .reasoning: "1 + 1 + 1 = 3 < 4.", .conclusion: "3"])
    }

    @Test("any split of the stream into pieces gives the same events", arguments: 0..<200)
    func randomSplits(seed: Int) {
        var rng = SeededRandomNumberGenerator(seed: UInt64(seed))
        let characters = Array(Self.answer)
        var parser = StageParser()
        var events: [StageEvent] = []
        var index = 0
        while index < characters.count {
            let length = Int.random(in: 1...7, using: &rng)
            let piece = String(characters[index..<min(characters.count, index + length)])
            events += parser.feed(piece)
            index += length
        }
        events += parser.finish()
        #expect(Self.normalized(events) == Self.normalized(StageParser.parse(Self.answer)))
    }

    @Test("tags are matched without regard to case or inner spaces; <think> is reasoning")
    func tagVariants() {
        let text = "< summary >a</ Summary><think>b</THINK>< CONCLUSION >c"
        #expect(StageParser.stages(of: text) == [.summary: "a", .reasoning: "b", .conclusion: "c"])
    }

    @Test("no tags at all: everything is the conclusion, streamed as it comes")
    func untagged() {
        var parser = StageParser()
        #expect(parser.feed("  The answer") == [.opened(.conclusion), .text(.conclusion, "The answer")])
        #expect(parser.feed(" is 4.") == [.text(.conclusion, " is 4.")])
        #expect(parser.finish() == [.closed(.conclusion)])
    }

    @Test("skipped closing tags, skipped stages and repeated stages stay consistent")
    func malformed() {
        let events = Self.normalized(StageParser.parse("<SUMMARY>s<REASONING>r</CAPTION></CONCLUSION><REASONING>more"))
        #expect(events == [
            .opened(.summary), .text(.summary, "s"), .closed(.summary),
            .opened(.reasoning), .text(.reasoning, "r"), .closed(.reasoning),
            .opened(.reasoning), .text(.reasoning, "more"), .closed(.reasoning),
        ])
        // Every opened stage is closed exactly once, in order.
        var open: Stage?
        for event in events {
            switch event {
            case .opened(let stage): #expect(open == nil); open = stage
            case .closed(let stage): #expect(open == stage); open = nil
            case .text(let stage, _): #expect(open == stage)
            }
        }
        #expect(open == nil)
    }

    @Test("held text that never becomes a tag is not lost")
    func heldText() {
        var parser = StageParser()
        #expect(parser.feed("<CAPTION>x <SUMM") == [.opened(.caption), .text(.caption, "x ")])
        #expect(parser.feed("ARIES") == [.text(.caption, "<SUMMARIES")])
        #expect(parser.feed(" <CAPT") == [.text(.caption, " ")])
        #expect(parser.finish() == [.text(.caption, "<CAPT"), .closed(.caption)])
    }

    @Test("random text with stray brackets: stages balance, no tag leaks into text, splits do not matter", arguments: 0..<100)
    func fuzz(seed: Int) {
        var rng = SeededRandomNumberGenerator(seed: UInt64(1000 + seed))
        let alphabet = Array("ab <>/ sUMmaRy think CONCLUSION\n")
        let text = String((0..<Int.random(in: 0...120, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        var parser = StageParser()
        var events: [StageEvent] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let length = Int.random(in: 1...5, using: &rng)
            events += parser.feed(String(rest.prefix(length)))
            rest = rest.dropFirst(length)
        }
        events += parser.finish()
        // Stage text never holds a complete tag, and every opened stage closes.
        var depth = 0
        for event in events {
            switch event {
            case .opened: depth += 1; #expect(depth == 1)
            case .closed: depth -= 1; #expect(depth == 0)
            case .text(_, let piece): #expect(!piece.isEmpty)
            }
        }
        #expect(depth == 0)
        for case .text(_, let piece) in Self.normalized(events) {
            for tag in ["<summary>", "</summary>", "<think>", "</conclusion>"] {
                #expect(!piece.lowercased().contains(tag))
            }
        }
        #expect(Self.normalized(events) == Self.normalized(StageParser.parse(text)))
    }
}
