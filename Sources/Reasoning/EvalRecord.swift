import Foundation

/// One question of an evaluation set, from a LLaVA-CoT-100k JSON line:
/// `{"id", "image", "conversations": [{"from": "human", "value"}, {"from": "gpt", "value"}, …]}`.
/// Several human/gpt pairs make one conversation: the earlier pairs are its history and the
/// last human turn is the question.
public struct EvalRecord: Sendable, Equatable {
    /// One earlier exchange of a multi-turn record: the question, and the reference answer's
    /// conclusion as the assistant turn (what the chat keeps of an answer).
    public typealias Turn = ReasoningConversation.Turn

    public var id: String
    /// The image path, resolved against the data file's folder; nil for a text question.
    public var image: String?
    /// The earlier exchanges, oldest first; empty for a one-question record.
    public var history: [Turn]
    /// The question (the last human turn), without LLaVA's `<image>` placeholder.
    public var question: String
    /// The reference answer: the conclusion of the last reference response (all of it if
    /// untagged).
    public var answer: String
    /// The record's `type` (or `kind`, or `category`) field, for per-type accuracy.
    public var type: String?

    /// Parses line `line` (1-based, for errors) of `file`; image paths are resolved against
    /// `file`'s folder.
    public init(json text: Substring, line: Int, file: String) throws(EvalDataError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw EvalDataError(file: file, line: line, problem: "is not a JSON object")
        }
        guard let turns = object["conversations"] as? [[String: Any]] else {
            throw EvalDataError(file: file, line: line, problem: "has no \"conversations\" list")
        }
        // Human/gpt pairs in order; other speakers (a "system" turn) are skipped.
        var pairs: [(human: String, gpt: String)] = []
        var waiting: String?
        for turn in turns {
            guard let value = turn["value"] as? String else { continue }
            switch turn["from"] as? String {
            case "human":
                if waiting != nil {
                    throw EvalDataError(file: file, line: line, problem: "has two \"human\" turns in a row (turn \(pairs.count * 2 + 2))")
                }
                waiting = value
            case "gpt":
                guard let human = waiting else {
                    throw EvalDataError(file: file, line: line, problem: "has a \"gpt\" turn with no \"human\" turn before it")
                }
                pairs.append((human, value))
                waiting = nil
            default:
                continue
            }
        }
        if waiting != nil, !pairs.isEmpty {
            throw EvalDataError(file: file, line: line, problem: "ends with a \"human\" turn that has no \"gpt\" reference answer")
        }
        guard let last = pairs.last else {
            throw EvalDataError(file: file, line: line, problem: "needs a \"human\" and a \"gpt\" turn with a \"value\"")
        }
        func question(_ human: String) -> String {
            human.replacingOccurrences(of: "<image>", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func conclusion(_ gpt: String) -> String { StageParser.stages(of: gpt)[.conclusion]?.trimmed ?? gpt.trimmed }
        id = (object["id"] as? String) ?? (object["id"] as? Int).map(String.init) ?? "line \(line)"
        history = pairs.dropLast().map { Turn(question: question($0.human), answer: conclusion($0.gpt)) }
        self.question = question(last.human)
        answer = conclusion(last.gpt)
        type = (object["type"] as? String) ?? (object["kind"] as? String) ?? (object["category"] as? String)
        if let path = object["image"] as? String, !path.isEmpty {
            image = path.hasPrefix("/") ? path
                : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path
        }
    }

    /// Every record of the JSON-lines file at `path` (blank lines skipped).
    public static func load(path: String) throws(EvalDataError) -> [EvalRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvalDataError(file: path, line: 0, problem: "cannot be read")
        }
        let text = String(decoding: data, as: UTF8.self)
        var records: [EvalRecord] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            records.append(try EvalRecord(json: line, line: index + 1, file: path))
        }
        if records.isEmpty { throw EvalDataError(file: path, line: 0, problem: "holds no records") }
        return records
    }
}

/// A data file line that is not a usable record. One sentence naming the file and line.
public struct EvalDataError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based; 0 for the file as a whole.
    public var line: Int
    public var problem: String

    public var description: String {
        line == 0 ? "The data file \(file) \(problem)." : "Line \(line) of \(file) \(problem)."
    }
}

/// How an answer is compared with the reference: normalised exact match, or the option
/// letter for a multiple-choice reference.
public enum AnswerMatch {
    /// Lowercased, with surrounding space, quotes and final punctuation removed, inner runs of
    /// space collapsed, and a leading article dropped.
    public static func normalise(_ text: String) -> String {
        var value = text.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'`“”‘’"))
        while let last = value.last, ".!?;:,".contains(last) { value.removeLast() }
        value = value.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for article in ["the ", "a ", "an "] where value.hasPrefix(article) {
            value = String(value.dropFirst(article.count))
            break
        }
        return value
    }

    /// The option letter an answer names: `B`, `(B)`, `B.` or `B) text` at its start.
    public static func optionLetter(_ text: String) -> Character? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var characters = Substring(trimmed)
        if characters.first == "(" { characters = characters.dropFirst() }
        guard let letter = characters.first, letter.isASCII, letter.isUppercase || letter.isLowercase else { return nil }
        let rest = characters.dropFirst()
        guard rest.isEmpty || [")", ".", ":", " "].contains(rest.first!) else { return nil }
        return Character(letter.uppercased())
    }

    /// Whether `predicted` answers like `reference`: by option letter when the reference is
    /// one, by normalised exact match otherwise.
    public static func matches(_ predicted: String, reference: String) -> Bool {
        let normalisedReference = normalise(reference)
        if normalisedReference.count == 1, let letter = optionLetter(reference) {
            return optionLetter(predicted) == letter
        }
        return normalise(predicted) == normalisedReference
    }
}
