import ArgumentParser
import Foundation
import GGUF
import Inference

/// `--models-dir`, shared by every command that takes `--model`: where else to look for a
/// model given by name, and the lookup itself.
struct ModelStoreOptions: ParsableArguments {
    @Option(name: .customLong("models-dir"),
            help: ArgumentHelp("Also look in this folder for models (repeatable; adds to $PONDER_MODELS).",
                               valueName: "folder"),
            completion: .directory)
    var modelsDirectories: [String] = []

    /// The store of this process, with the `--models-dir` folders.
    var store: ModelStore { .current(folders: modelsDirectories) }

    /// The model `value` names: an existing file, or a name `ponder models` lists.
    func resolve(_ value: String) throws -> ModelReference {
        do {
            return try store.resolve(value)
        } catch {
            throw CommandFailure(error.description)
        }
    }
}

/// Bounds on the pixels of an image that the encoder resizes dynamically (Qwen2.5-VL).
struct ImagePixelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Resize images to at least this many pixels where the encoder resizes dynamically (Qwen2.5-VL; default: the projector's key, else 8 tokens' worth).", valueName: "pixels"))
    var imageMinPixels: Int?
    @Option(help: ArgumentHelp("Resize images to at most this many pixels where the encoder resizes dynamically (Qwen2.5-VL; default: the projector's key, else 4096 tokens' worth).", valueName: "pixels"))
    var imageMaxPixels: Int?

    func validate() throws {
        for (name, value) in [("--image-min-pixels", imageMinPixels), ("--image-max-pixels", imageMaxPixels)] {
            if let value, value <= 0 { throw ValidationError("\(name) must be positive, not \(value).") }
        }
        if let low = imageMinPixels, let high = imageMaxPixels, low > high {
            throw ValidationError("--image-min-pixels (\(low)) must not exceed --image-max-pixels (\(high)).")
        }
    }

    var bounds: (min: Int?, max: Int?) { (imageMinPixels, imageMaxPixels) }
}

/// The model files a command uses: the ones given (a path or a listed name, whose projector
/// comes along unless --mmproj is given), or the bundled demo model.
struct ModelFiles {
    var model: String
    var mmproj: String?
    /// The listed name, or the model file's name.
    var displayName: String
    /// The store entry when the model was given by name.
    var entry: ModelStoreEntry?
    /// The bundled sample image and its suggested question (demo model only).
    var sampleImage: String?
    var sampleQuestion: String?

    init(model: String?, mmproj: String?, store: ModelStoreOptions) throws {
        if let model {
            let reference = try store.resolve(model)
            self.model = reference.model
            self.mmproj = mmproj ?? reference.projector
            displayName = reference.displayName
            entry = reference.entry
            return
        }
        guard let demo = DemoModel.locate() else {
            throw CommandFailure("No --model was given and the bundled demo model (Models/demo/\(DemoModel.textFile)) was not found next to the executable or in the current directory; pass --model.")
        }
        self.model = demo.textModel
        self.mmproj = mmproj ?? demo.projector
        displayName = URL(fileURLWithPath: demo.textModel).deletingPathExtension().lastPathComponent
        sampleImage = demo.sampleImage
        sampleQuestion = demo.sampleQuestion
    }

    /// Refuses an image when neither the projector (given, or the listed model's) nor the
    /// model file itself (Ollama's one-file mllama models) holds a vision encoder.
    func checkVision(image: String?) throws {
        guard image != nil, mmproj == nil else { return }
        if let file = try? GGUFFile(path: model), ChatVisionEncoder.holdsVision(file) { return }
        if let entry {
            throw CommandFailure("--image needs --mmproj: \(entry.name) has no vision projector beside it in \(entry.source.title).")
        }
        throw CommandFailure("--image needs --mmproj, the vision projector that goes with the model.")
    }
}
