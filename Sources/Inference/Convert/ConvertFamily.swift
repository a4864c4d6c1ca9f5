import Foundation
import GGUF

/// A model family that `ponder convert` can turn into GGUF: one file per family under
/// `Convert/` (`ConvertLlama.swift`, …), registered in `ConvertFamilies.all` under the
/// `architectures[0]` names of `config.json` it handles.
///
/// A family maps checkpoint tensor names to GGUF names, checks shapes against the config,
/// picks row transforms (rope permutation) and computed tensors, and writes the metadata that
/// llama.cpp's `convert_hf_to_gguf.py` writes for it, so Ponder (and llama.cpp) read the
/// result as they read llama.cpp's own files.
public protocol ConvertFamily: Sendable {
    /// `architectures[0]` values of `config.json`, e.g. `LlamaForCausalLM`.
    static var architectures: [String] { get }
    /// The files to write: the text model first, then a projector for vision models.
    static func plans(for checkpoint: HFCheckpoint) throws(ConvertError) -> [ConvertPlan]
}

public enum ConvertFamilies {
    /// Every family, in the order `--help` and errors list them.
    public static let all: [any ConvertFamily.Type] = [
        ConvertLlama.self, ConvertQwen2.self, ConvertIdefics3.self, ConvertLlava.self, ConvertMllama.self,
    ]

    public static var supportedArchitectures: [String] { all.flatMap { $0.architectures } }

    /// The family for the checkpoint's `architectures[0]`, or an error listing the supported ones.
    public static func family(for checkpoint: HFCheckpoint) throws(ConvertError) -> any ConvertFamily.Type {
        let name = checkpoint.config.architectures?.first
        guard let name, let family = all.first(where: { $0.architectures.contains(name) }) else {
            throw ConvertError(file: checkpoint.path("config.json"),
                               kind: .unsupportedArchitecture(name, supported: supportedArchitectures))
        }
        return family
    }
}

/// Metadata every converted file carries, as llama.cpp's `prepare_metadata` writes it.
enum GeneralMetadata {
    /// `general.name` from the folder name, as llama.cpp's `Metadata.id_to_title`.
    static func name(folder: String) -> String {
        let base = URL(fileURLWithPath: folder).standardizedFileURL.lastPathComponent
        let words = base.replacingOccurrences(of: "-", with: " ").split(separator: " ").map(String.init)
        return words.map { word in
            let isVersion = word.first?.isNumber == true
                || (word.first == "v" && word.dropFirst().allSatisfy { $0.isNumber || $0 == "." } && word.count > 1)
            guard word == word.lowercased(), !isVersion else { return word }
            return titleCased(word)
        }.joined(separator: " ")
    }

    /// Python's `str.title()`: a letter after a non-letter is upper-cased, other letters lower-cased.
    static func titleCased(_ word: String) -> String {
        var out = ""
        var previousIsLetter = false
        for character in word {
            out += previousIsLetter ? character.lowercased() : character.uppercased()
            previousIsLetter = character.isLetter
        }
        return out
    }

    /// `general.size_label` (`121K`, `1.2B`) from the element count of every tensor, as
    /// llama.cpp's `model_weight_count_rounded_notation` with two significant digits.
    static func sizeLabel(parameters: Int) -> String {
        let count = Double(parameters)
        let (scaled, suffix): (Double, String) =
            count > 1e12 ? (count * 1e-12, "T") : count > 1e9 ? (count * 1e-9, "B")
            : count > 1e6 ? (count * 1e-6, "M") : (count * 1e-3, "K")
        let integerDigits = String(Int(scaled.rounded(.toNearestOrEven))).drop { $0 == "0" }.count
        let decimals = max(2 - integerDigits, 0)
        return String(format: "%.\(decimals)f", scaled) + suffix
    }

    /// The leading `general.*` keys of a file.
    static func leading(architecture: String, type: String, checkpoint: HFCheckpoint) -> [(key: String, value: GGUFValue)] {
        [("general.architecture", .string(architecture)), ("general.type", .string(type)),
         ("general.name", .string(name(folder: checkpoint.folder)))]
    }
}
