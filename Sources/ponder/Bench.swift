import ArgumentParser
import COpenBLAS
import Foundation
import GGUF
import Inference

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt-processing and generation speed.",
        discussion: """
            Prompt processing (pp) runs -p random tokens as one batch; generation (tg) decodes -n \
            tokens one at a time after --depth positions of context, --batch sequences together \
            (tokens/s is then the total over all sequences). --batch and --depth take \
            comma-separated lists: every combination is one generation test. Each test runs \
            --repeat times after one untimed warmup token, and the table shows the mean tokens/s \
            ± the standard deviation over the runs, in llama-bench's layout. Read bandwidth is \
            measured around each test; generation is also shown against the memory limit \
            (bandwidth ÷ bytes of weights read per token). With --image (and --mmproj, unless the \
            listed model brings its projector), the \
            image test times, in seconds, preprocessing and encoding of the (already decoded) \
            image; for Llama 3.2 Vision (mllama) the prompt starts with that image, so the prompt \
            test includes its cross-attention K/V and the cross-attention layers run in both tests. \
            For the families that read an image as embedding rows (Gemma 3, Qwen-VL, LLaVA, \
            SmolVLM), an image-prompt test img{rows}+pp{p} prefills the image's rows (with the \
            family's masks and positions: Gemma 3's two-way image span, Qwen's M-RoPE) followed by \
            -p random tokens, and counts every position in its tokens/s. \
            --json prints one object per test instead, with the best run (tokens_per_second, \
            seconds) and the mean and standard deviation, then a "load" object (load and \
            repacking seconds, peak resident bytes, OpenBLAS's kernels).

            Examples:
              ponder bench --model model.gguf
              ponder bench --model model.gguf -p 512 -n 128 --threads 2 --json
              ponder bench --model model.gguf -p 0 -n 64 --batch 1,2,4,8
              ponder bench --model model.gguf -p 0 --depth 0,2048
              ponder bench --model model.gguf --mmproj mmproj.gguf --image cat.jpg -p 0 -n 0
              ponder bench --model llama3.2-vision:11b -p 0 -n 32      (a name that ponder models lists)
            """)

    @Option(help: "The GGUF model, or a name that ponder models lists.", completion: .file(extensions: ["gguf"]))
    var model: String

    @OptionGroup var modelStore: ModelStoreOptions

    @Option(name: .customShort("p"), help: "Prompt tokens for the prompt-processing test (0 skips it).")
    var promptTokens = 512

    @Option(name: .customShort("n"), help: "Tokens to generate per sequence (0 skips the generation test).")
    var generatedTokens = 128

    @Option(help: "Threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: ArgumentHelp("Sequences decoded together in the generation test; a list (1,2,4,8) runs one test per value.",
                               valueName: "n[,n…]"))
    var batch = "1"

    @Option(help: ArgumentHelp("Positions of context before the generation test; a list (0,2048) runs one test per value.",
                               valueName: "n[,n…]"))
    var depth = "0"

    @Option(name: .customLong("repeat"), help: "Runs per test: the table shows their mean ± standard deviation.")
    var repeats = 3

    @Flag(inversion: .prefixedNo, help: "Run one untimed token before the tests.")
    var warmup = true

    @Flag(inversion: .prefixedNo, help: "Measure read bandwidth around each test.")
    var bandwidth = true

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "Repack Q8_0, Q4_0, Q4_K, Q6_K, F16 and BF16 weights at load for the interleaved kernels (AVX-512 VNNI).",
        discussion: "--no-repack keeps every weight mapped in the file's layout, to compare the two."))
    var repack = true

    @Option(help: "A vision projector (mmproj) GGUF: adds the image-encoding test.", completion: .file(extensions: ["gguf"]))
    var mmproj: String?

    @Option(help: "The image for the image-encoding test.", completion: .file())
    var image: String?

    @Flag(help: "Print one JSON object per test.")
    var json = false

    var batches: [Int] { (try? Self.countList(batch, option: "--batch", minimum: 1)) ?? [1] }
    var depths: [Int] { (try? Self.countList(depth, option: "--depth", minimum: 0)) ?? [0] }

    func validate() throws {
        guard promptTokens >= 0, generatedTokens >= 0 else {
            throw CommandFailure("-p and -n must not be negative.")
        }
        guard threads >= 1, repeats >= 1 else {
            throw CommandFailure("--threads and --repeat must be at least 1.")
        }
        _ = try Self.countList(batch, option: "--batch", minimum: 1)
        _ = try Self.countList(depth, option: "--depth", minimum: 0)
        guard mmproj == nil || image != nil else {
            throw CommandFailure("--mmproj and --image go together.")
        }
    }

    /// `"1,2,4"` → `[1, 2, 4]`: whole numbers of at least `minimum`, separated by commas,
    /// duplicates dropped; anything else is one sentence naming the option and the value.
    static func countList(_ text: String, option: String, minimum: Int) throws -> [Int] {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw CommandFailure("\(option) is empty; give a number or a comma-separated list such as "
                                 + (minimum == 0 ? "0,2048." : "1,2,4,8."))
        }
        var values: [Int] = []
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = piece.trimmingCharacters(in: .whitespaces)
            guard let value = Int(trimmed), value >= minimum else {
                let what = minimum == 0 ? "a whole number (0 or more)" : "a whole number of at least \(minimum)"
                throw CommandFailure("\(option): '\(trimmed)' in '\(text)' is not \(what); give one or a comma-separated list such as "
                                     + (minimum == 0 ? "0,2048." : "1,2,4,8."))
            }
            if !values.contains(value) { values.append(value) }
        }
        return values
    }

    /// The image test: seconds of each of `repeats` runs to preprocess and encode the image,
    /// and the encoded image.
    func encodeImage(projector mmproj: String?) throws -> (samples: [Double], image: EncodedImage)? {
        guard let mmproj, let image else { return nil }
        do {
            let encoder = try ChatVisionEncoder.load(path: mmproj, threads: threads)
            let pixels = try ImageDecoder.decode(contentsOf: image)
            var samples: [Double] = []
            var encoded: EncodedImage?
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                encoded = try encoder.encode(pixels)
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return (samples, encoded!)
        } catch {
            throw CommandFailure(error)
        }
    }

    func run() throws {
        let file: GGUFFile
        let projectorFile: GGUFFile?
        let reference = try modelStore.resolve(model)
        let projector = image == nil ? nil : mmproj ?? reference.projector
        if image != nil && projector == nil {
            throw CommandFailure("--mmproj and --image go together"
                                 + (reference.entry.map { ": \($0.name) has no vision projector beside it." } ?? "."))
        }
        do {
            file = try GGUFFile(path: reference.model)
            projectorFile = try projector.map { try GGUFFile(path: $0) }
        } catch {
            throw CommandFailure(error)
        }
        let described = BenchModel(file: file)
        let table = BenchTable()
        if !json { print(table.header) }

        // The image first: an mllama prompt starts with it, so the text tests include cross-attention.
        let encoded = try encodeImage(projector: projector)
        var benchmark = TextModelBenchmark(promptTokens: promptTokens, generatedTokens: generatedTokens,
                                           batches: batches, depths: depths, repeats: repeats, threads: threads,
                                           measuresBandwidth: bandwidth, warmup: warmup)
        if let encoded {
            if encoded.image.layout == .mllama {
                benchmark.image = encoded.image.parts.first
            } else {
                benchmark.imageParts = encoded.image.parts
            }
        }
        let textModel: any TextModel
        let loadStart = ContinuousClock.now
        do {
            var options = TextModelOptions(contextLength: benchmark.contextNeeded, cacheCapacity: benchmark.cacheNeeded,
                                           threadCount: threads)
            options.repacksWeights = repack
            textModel = try loadTextModel(file: file, options: options)
        } catch {
            throw CommandFailure(error)
        }
        let loadSeconds = Self.seconds(ContinuousClock.now - loadStart)
        let weightBytes = TextModelBenchmark.weightBytesPerToken(file: file)
        var notes: [String] = []
        do {
            try benchmark.run(model: textModel, pool: ThreadPool(threadCount: threads)) { measurement in
                if json {
                    printJSON(BenchRecord(measurement: measurement, model: described, backend: "CPU", repeats: repeats))
                    return
                }
                let name = BenchTable.testName(measurement.test, batch: measurement.batch, depth: measurement.depth)
                print(table.row(model: described, threads: threads, test: name,
                                value: String(format: "%.2f ± %.2f", measurement.meanTokensPerSecond, measurement.sdTokensPerSecond)))
                if let before = measurement.bandwidthBefore, let after = measurement.bandwidthAfter {
                    var note = name + String(format: ": read bandwidth %.1f – %.1f GB/s", min(before, after), max(before, after))
                    if measurement.test.hasPrefix("tg") {
                        let limit = (before + after) / 2 * 1e9 / Double(weightBytes)
                        let perSequence = measurement.meanTokensPerSecond / Double(measurement.batch)
                        note += String(format: "; per sequence %.0f%% of the memory limit (%.1f t/s)", 100 * perSequence / limit, limit)
                    }
                    notes.append(note)
                }
            }
        } catch {
            throw CommandFailure(error)
        }
        if let samples = encoded?.samples {
            let projector = projectorFile.map(BenchModel.init(file:)) ?? described
            let (mean, sd) = TextModelBenchmark.Measurement.meanAndDeviation(samples)
            if json {
                printJSON(BenchImageRecord(seconds: samples.min() ?? 0, meanSeconds: mean, sdSeconds: sd, samples: samples,
                                           threads: threads, model: projector, repeats: repeats))
            } else {
                print(table.row(model: projector, threads: threads, test: "image", value: String(format: "%.3f ± %.3f s", mean, sd)))
                notes.append("image: seconds to preprocess and encode \(URL(fileURLWithPath: image!).lastPathComponent)")
            }
        }
        let weights = (textModel as? TransformerTextModel)?.weights
        let kernels = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        if json {
            printJSON(BenchLoadRecord(fields: .init(loadSeconds: loadSeconds, repackSeconds: weights?.repackSeconds ?? 0,
                                                    repackedBytes: weights?.repackedBytes ?? 0,
                                                    peakResidentBytes: Self.peakResidentBytes(), openblasKernels: kernels,
                                                    threads: threads),
                                      model: described))
        } else {
            var load = String(format: "load: %.2f s", loadSeconds)
            if let weights, weights.repackedBytes > 0 {
                load += ", of which \(String(format: "%.2f", weights.repackSeconds)) s repacking "
                    + "\(ModelSummary.formatBytes(weights.repackedBytes)) of weights (their mapped pages released)"
            }
            notes.append(load)
            notes.append("peak resident memory: \(ModelSummary.formatBytes(Self.peakResidentBytes()))")
            notes.append("OpenBLAS kernels: \(kernels)")
            print("")
            if bandwidth && generatedTokens > 0 { print("\(ModelSummary.formatBytes(weightBytes)) of weights read per token") }
            for note in notes { print(note) }
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// The process's peak resident set (getrusage's ru_maxrss, KiB on Linux).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    private func printJSON(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
    }
}

/// The model columns of llama-bench's table: a description (`llama 1B Q8_0`: architecture,
/// size label, file type), the bytes of its tensors and its parameter count.
struct BenchModel: Encodable {
    var description: String
    var size: Int
    var parameters: Int

    init(file: GGUFFile) {
        parameters = file.tensors.reduce(0) { $0 + $1.elementCount }
        size = file.tensors.reduce(0) { $0 + $1.byteCount }
        let architecture = (try? file.optionalString("general.architecture")) ?? nil
        var parts: [String] = []
        if let architecture {
            parts.append(architecture)
            if architecture == "clip", let projector = (try? file.optionalString("clip.projector_type")) ?? nil {
                parts.append(projector)
            } else if let label = (try? file.optionalString("general.size_label")) ?? nil, !label.isEmpty {
                parts.append(label)
            } else {
                parts.append(Self.sizeLabel(parameters))
            }
        } else if let name = (try? file.optionalString("general.name")) ?? nil {
            parts.append(name)
        }
        if let type = (try? file.optionalInt("general.file_type")) ?? nil {
            parts.append(ModelFileType.name(type))
        }
        description = parts.isEmpty ? URL(fileURLWithPath: file.path).lastPathComponent : parts.joined(separator: " ")
    }

    /// `1_235_814_400` → `1B`, `134_515_008` → `135M`.
    static func sizeLabel(_ parameters: Int) -> String {
        let count = Double(parameters)
        if count >= 1e9 { return "\(Int(count / 1e9))B" }
        if count >= 1e6 { return "\(Int((count / 1e6).rounded()))M" }
        return "\(Int((count / 1e3).rounded()))K"
    }

    /// `1.22 GiB`, `94.20 MiB`, as llama-bench prints model sizes.
    var sizeText: String {
        let gib = Double(size) / 1_073_741_824
        return gib >= 1 ? String(format: "%.2f GiB", gib) : String(format: "%.2f MiB", Double(size) / 1_048_576)
    }

    /// `1.24 B`, `134.52 M`, as llama-bench prints parameter counts.
    var parametersText: String {
        let count = Double(parameters)
        if count >= 1e9 { return String(format: "%.2f B", count / 1e9) }
        if count >= 1e6 { return String(format: "%.2f M", count / 1e6) }
        return String(format: "%.2f K", count / 1e3)
    }

    enum CodingKeys: String, CodingKey {
        case description = "model", size = "model_size", parameters = "model_params"
    }
}

/// llama-bench's markdown table: `| model | size | params | backend | threads | test | t/s |`.
struct BenchTable {
    let columns: [(title: String, width: Int, right: Bool)] = [
        ("model", 30, false), ("size", 10, true), ("params", 10, true), ("backend", 10, false),
        ("threads", 7, true), ("test", 16, true), ("t/s", 20, true),
    ]

    var header: String {
        line(columns.map(\.title)) + "\n"
            + "|" + columns.map { " " + String(repeating: "-", count: $0.right ? $0.width - 1 : $0.width) + ($0.right ? ":" : "") + " |" }.joined()
    }

    func row(model: BenchModel, threads: Int, test: String, value: String) -> String {
        line([model.description, model.sizeText, model.parametersText, "CPU", String(threads), test, value])
    }

    private func line(_ cells: [String]) -> String {
        "|" + zip(columns, cells).map { column, cell in
            " " + (column.right ? cell.leftPad(column.width) : cell.padding(toLength: max(column.width, cell.count), withPad: " ", startingAt: 0)) + " |"
        }.joined()
    }

    /// `pp512`, `tg128`, `tg128 x4` (4 sequences together), `tg128 @ d2048`, as llama-bench
    /// names its tests.
    static func testName(_ test: String, batch: Int, depth: Int) -> String {
        test + (batch > 1 ? " x\(batch)" : "") + (depth > 0 ? " @ d\(depth)" : "")
    }
}

/// One `--json` line of a text test: the measurement's fields and the model's.
struct BenchRecord: Encodable {
    var measurement: TextModelBenchmark.Measurement
    var model: BenchModel
    var backend: String
    var repeats: Int

    enum CodingKeys: String, CodingKey { case backend, repeats }

    func encode(to encoder: any Encoder) throws {
        try measurement.encode(to: encoder)
        try model.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(backend, forKey: .backend)
        try container.encode(repeats, forKey: .repeats)
    }
}

/// The last `--json` line: the text model's load (and repacking) time, the process's peak
/// resident memory over the whole run, and OpenBLAS's kernels.
struct BenchLoadRecord: Encodable {
    struct Fields: Encodable {
        var test = "load"
        var loadSeconds: Double
        var repackSeconds: Double
        var repackedBytes: Int
        var peakResidentBytes: Int
        var openblasKernels: String
        var threads: Int

        enum CodingKeys: String, CodingKey {
            case test, threads
            case loadSeconds = "load_seconds", repackSeconds = "repack_seconds", repackedBytes = "repacked_bytes"
            case peakResidentBytes = "peak_resident_bytes", openblasKernels = "openblas_kernels"
        }
    }

    var fields: Fields
    var model: BenchModel

    func encode(to encoder: any Encoder) throws {
        try fields.encode(to: encoder)
        try model.encode(to: encoder)
    }
}

/// The `--json` line of the image test: seconds (the best run), their mean, standard deviation
/// and samples, and the projector's model fields.
struct BenchImageRecord: Encodable {
    var test = "image"
    var batch = 1
    var depth = 0
    var seconds: Double
    var meanSeconds: Double
    var sdSeconds: Double
    var samples: [Double]
    var threads: Int
    var model: BenchModel
    var backend = "CPU"
    var repeats: Int

    enum CodingKeys: String, CodingKey {
        case test, batch, depth, seconds, threads, backend, repeats
        case meanSeconds = "mean_seconds", sdSeconds = "sd_seconds", samples = "samples_seconds"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(test, forKey: .test)
        try container.encode(batch, forKey: .batch)
        try container.encode(depth, forKey: .depth)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(meanSeconds, forKey: .meanSeconds)
        try container.encode(sdSeconds, forKey: .sdSeconds)
        try container.encode(samples, forKey: .samples)
        try container.encode(threads, forKey: .threads)
        try container.encode(backend, forKey: .backend)
        try container.encode(repeats, forKey: .repeats)
        try model.encode(to: encoder)
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
