import ArgumentParser
import Foundation
import Inference
import Reasoning
import RemoteModel

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run a strategy over a question set and score the conclusions.",
        discussion: """
            Reads JSON lines in the LLaVA-CoT-100k record format ({"id", "image", \
            "conversations": [{"from": "human", "value"}, {"from": "gpt", "value"}]}; image \
            paths relative to the data file), asks each question with the chosen strategy, \
            and compares the answer's conclusion with the reference's: normalised exact match \
            (case, surrounding spaces and quotes, final punctuation and a leading article \
            ignored), or the option letter when the reference is a letter. Prints accuracy, \
            tokens generated and wall time; a record with a "type" field also gets accuracy \
            per type. Progress goes to stderr.

            Examples:
              ponder eval --data Models/demo/eval-sample.jsonl
              ponder eval --data held-out.jsonl --strategy stage-beam --beam 4 --judge self --limit 100 --json
              ponder eval --data held-out.jsonl --server http://127.0.0.1:8000 --strategy stage-beam --judge self
            """)

    @Option(help: "The question set: LLaVA-CoT-100k JSON lines.", completion: .file(extensions: ["jsonl"]))
    var data: String

    @Option(help: "The GGUF text model, or a name that ponder models lists (default: the bundled demo model).", completion: .file(extensions: ["gguf"]))
    var model: String?

    @Option(help: "The vision projector (mmproj) GGUF that goes with the model (default: the listed model's).", completion: .file(extensions: ["gguf"]))
    var mmproj: String?

    @OptionGroup var modelStore: ModelStoreOptions
    @OptionGroup var imagePixels: ImagePixelOptions
    @OptionGroup var remote: ServerOptions

    @Option(help: "Score only the first K questions.")
    var limit: Int?

    @OptionGroup var search: StrategyOptions

    @OptionGroup var sampling: SamplingOptions

    @Flag(help: "Print one JSON object per question, then one with the totals.")
    var json = false

    @OptionGroup var runtime: RunOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1.") }
    }

    func run() async throws {
        var records: [EvalRecord]
        do {
            records = try EvalRecord.load(path: data)
        } catch {
            throw CommandFailure(error)
        }
        if let limit { records = Array(records.prefix(limit)) }
        let parameters = sampling.parameters(defaultTemperature: search.defaultTemperature)
        let configuration: ReasoningConfiguration
        let instruction: String?
        /// The model that answers a record, its image in view.
        let modelFor: (EvalRecord) throws -> any ReasoningModel
        if let server = try await remote.connect() {
            configuration = search.configuration(parameters: parameters, plan: .llavaCoT)
            instruction = search.remoteInstruction
            modelFor = { record in try record.image.map { try server.attaching(imageAt: $0) } ?? server }
        } else {
            let files = try ModelFiles(model: model, mmproj: mmproj, store: modelStore)
            let needsImages = records.contains { $0.image != nil }
            let chat: ChatModel
            do {
                chat = try ChatModel(model: files.model, mmproj: needsImages ? files.mmproj : nil,
                                     options: TextModelOptions(contextLength: runtime.contextLength, threadCount: runtime.threads),
                                     imagePixels: imagePixels.bounds)
            } catch {
                throw CommandFailure(error)
            }
            if needsImages && chat.vision == nil {
                throw CommandFailure("The questions in \(data) have images, so --mmproj is needed with --model.")
            }
            configuration = search.configuration(parameters: parameters, chat: chat)
            instruction = search.instruction(for: chat)
            modelFor = { record in
                LocalReasoningModel(chat: chat, images: try record.image.map { [try chat.encodeImage(atPath: $0)] } ?? [])
            }
        }
        var tally = EvalTally()
        var progress = ProgressBar(total: records.count, quiet: runtime.quiet)
        let start = Date()
        for record in records {
            try Task.checkCancellation()
            let outcome: EvalOutcome
            do {
                let model = try modelFor(record)
                let conversation = ReasoningConversation(
                    question: record.question, history: record.history,
                    instruction: instruction)
                let result = try await Reasoner(model: model, judge: search.judge(for: model, system: nil))
                    .run(conversation: conversation, configuration: configuration)
                outcome = EvalOutcome(record: record, predicted: result.answer,
                                      correct: AnswerMatch.matches(result.answer, reference: record.answer),
                                      generatedTokens: result.generatedTokens, seconds: result.seconds, error: nil)
            } catch {
                outcome = EvalOutcome(record: record, predicted: "", correct: false, generatedTokens: 0, seconds: 0,
                                      error: String(describing: error))
                progress.note("warning: question \(record.id): \(error)")
            }
            tally.add(outcome)
            if json { printJSON(outcome.json) }
            progress.advance(correct: tally.correct)
        }
        progress.finish()
        let wall = Date().timeIntervalSince(start)
        if json {
            printJSON(tally.summary(wall: wall, strategy: configuration, judge: search.judge.rawValue))
        } else {
            print(tally.report(wall: wall, title: "\(search.strategy.rawValue)"
                + (search.strategy == .greedy ? "" : " N=\(search.beam), judge \(search.judge.rawValue)")
                + ", seed \(parameters.seed)"))
        }
    }

    private func printJSON(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

/// One scored question.
struct EvalOutcome {
    let record: EvalRecord
    let predicted: String
    let correct: Bool
    let generatedTokens: Int
    let seconds: Double
    let error: String?

    var json: [String: Any] {
        var object: [String: Any] = ["id": record.id, "expected": record.answer, "predicted": predicted,
                                     "correct": correct, "generated_tokens": generatedTokens, "seconds": seconds]
        if let type = record.type { object["type"] = type }
        if let error { object["error"] = error }
        return object
    }
}

/// Totals over the scored questions, overall and per type.
struct EvalTally {
    private(set) var count = 0
    private(set) var correct = 0
    private(set) var errors = 0
    private(set) var generatedTokens = 0
    private var byType: [String: (count: Int, correct: Int)] = [:]

    mutating func add(_ outcome: EvalOutcome) {
        count += 1
        if outcome.correct { correct += 1 }
        if outcome.error != nil { errors += 1 }
        generatedTokens += outcome.generatedTokens
        if let type = outcome.record.type {
            byType[type, default: (0, 0)].count += 1
            if outcome.correct { byType[type, default: (0, 0)].correct += 1 }
        }
    }

    var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }

    func summary(wall: Double, strategy: ReasoningConfiguration, judge: String) -> [String: Any] {
        var object: [String: Any] = [
            "event": "summary", "questions": count, "correct": correct, "accuracy": accuracy, "errors": errors,
            "generated_tokens": generatedTokens, "seconds": wall, "strategy": strategy.strategy.rawValue,
            "beam": strategy.candidates, "judge": judge,
        ]
        if !byType.isEmpty {
            object["by_type"] = byType.mapValues { ["questions": $0.count, "correct": $0.correct] }
        }
        return object
    }

    func report(wall: Double, title: String) -> String {
        var lines = [title,
                     String(format: "accuracy %.1f%% (%d of %d)", 100 * accuracy, correct, count),
                     String(format: "generated %d tokens (%.1f per question) in %.1f s (%.2f s per question)",
                            generatedTokens, Double(generatedTokens) / Double(max(count, 1)), wall, wall / Double(max(count, 1)))]
        if errors > 0 { lines.append("\(errors) questions failed (see the warnings above)") }
        for (type, tally) in byType.sorted(by: { $0.key < $1.key }) {
            lines.append(String(format: "  %@: %.1f%% (%d of %d)", type, 100 * Double(tally.correct) / Double(tally.count),
                                tally.correct, tally.count))
        }
        return lines.joined(separator: "\n")
    }
}

/// A one-line progress bar on stderr, redrawn in place on a terminal and printed every tenth
/// of the way otherwise.
struct ProgressBar {
    let total: Int
    let quiet: Bool
    private var done = 0
    private let interactive = isatty(STDERR_FILENO) != 0
    private let start = Date()

    init(total: Int, quiet: Bool) {
        self.total = total
        self.quiet = quiet
    }

    mutating func advance(correct: Int) {
        done += 1
        guard !quiet else { return }
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let elapsed = Date().timeIntervalSince(start)
        let remaining = done == 0 ? 0 : elapsed / Double(done) * Double(total - done)
        let line = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
            + "\(done)/\(total), \(correct) correct, " + String(format: "%.0f s left", remaining)
        if interactive {
            FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
        } else if total < 10 || done % max(1, total / 10) == 0 || done == total {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func note(_ text: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + text + "\n").utf8))
    }

    func finish() {
        if interactive && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
