import Foundation
import GGUF
import Inference

/// The model files a command uses: the ones given, or the bundled demo model.
struct ModelFiles {
    var model: String
    var mmproj: String?
    /// The bundled sample image and its suggested question (demo model only).
    var sampleImage: String?
    var sampleQuestion: String?

    init(model: String?, mmproj: String?) throws {
        if let model {
            self.model = model
            self.mmproj = mmproj
            return
        }
        guard let demo = DemoModel.locate() else {
            throw CommandFailure("No --model was given and the bundled demo model (Models/demo/\(DemoModel.textFile)) was not found next to the executable or in the current directory; pass --model.")
        }
        self.model = demo.textModel
        self.mmproj = mmproj ?? demo.projector
        sampleImage = demo.sampleImage
        sampleQuestion = demo.sampleQuestion
    }

    /// Refuses an image when neither `--mmproj` nor the model file itself (Ollama's one-file
    /// mllama models) holds a vision encoder.
    static func checkVision(image: String?, model: String?, mmproj: String?) throws {
        guard image != nil, mmproj == nil, let model else { return }
        if let file = try? GGUFFile(path: model), ChatVisionEncoder.holdsVision(file) { return }
        throw CommandFailure("--image needs --mmproj, the vision projector that goes with the model.")
    }
}
