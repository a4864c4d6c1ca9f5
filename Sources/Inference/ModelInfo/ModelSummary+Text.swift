import Foundation

/// The human-readable form of `ModelSummary`, as `ponder inspect` prints it.
extension ModelSummary {
    public var text: String {
        var lines: [(String, String)] = []
        func add(_ label: String, _ value: String?) { if let value { lines.append((label, value)) } }
        add("file", file)
        add("format", "GGUF v\(ggufVersion), \(Self.formatBytes(fileSize))")
        add("architecture", architecture ?? "(none)")
        add("name", name)
        add("parameters", Self.formatCount(parameterCount))
        add("file type", fileType)
        add("context length", contextLength.map(String.init))
        add("embedding length", embeddingLength.map(String.init))
        add("blocks", blockCount.map(String.init))
        if let headCount {
            add("attention heads", headCountKV.map { $0 == headCount ? "\(headCount)" : "\(headCount) (\($0) KV)" })
        }
        if let tokenizer {
            var kind = tokenizer.kind
            if tokenizer.kind == "gpt2" { kind += " (byte-level BPE)" }
            if tokenizer.kind == "llama" { kind += " (SentencePiece)" }
            if let pre = tokenizer.preTokenizer { kind += ", pre-tokenizer \(pre)" }
            add("tokenizer", kind)
            add("vocabulary", "\(tokenizer.vocabularySize) tokens" + (tokenizer.mergeCount.map { ", \($0) merges" } ?? ""))
        }
        add("chat template", chatTemplate.map { name in chatTemplateWarning == nil ? name : "\(name) (fallback: \(chatTemplateWarning!))" })
        if let projector {
            add("projector", projector.projectorType)
            add("image size", projector.imageSize.map { "\($0)×\($0)" + (projector.patchSize.map { ", patches of \($0)" } ?? "") })
            add("vision blocks", projector.blockCount.map(String.init))
        }
        add("metadata keys", String(metadataCount))
        add("tensors", String(tensorCount))
        let width = lines.map(\.0.count).max() ?? 0
        var out = lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
        if !typeUsage.isEmpty {
            out.append("")
            out.append("type      tensors  bytes")
            for usage in typeUsage {
                out.append(usage.type.padding(toLength: 8, withPad: " ", startingAt: 0) + "  "
                           + String(usage.tensors).leftPadded(7) + "  " + Self.formatBytes(usage.bytes))
            }
        }
        return out.joined(separator: "\n")
    }

    /// `1234567` → `1.23 M`.
    public static func formatCount(_ count: Int) -> String {
        let units: [(Double, String)] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]
        for (scale, unit) in units where Double(count) >= scale {
            return String(format: "%.2f", Double(count) / scale) + " " + unit
        }
        return String(count)
    }

    /// `1536` → `1.50 KiB`.
    public static func formatBytes(_ bytes: Int) -> String {
        let units: [(Double, String)] = [(1_099_511_627_776, "TiB"), (1_073_741_824, "GiB"), (1_048_576, "MiB"), (1024, "KiB")]
        for (scale, unit) in units where Double(bytes) >= scale {
            return String(format: "%.2f", Double(bytes) / scale) + " " + unit
        }
        return "\(bytes) B"
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
