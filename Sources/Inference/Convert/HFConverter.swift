import Foundation
import GGUF

/// What to convert to.
public struct ConvertOptions: Sendable {
    /// The text model's file; a projector goes next to it as `mmproj-NAME`.
    public var outputPath: String
    /// The requested type (one of `TensorEncoding.supportedTypes`); nil picks BF16 for a BF16
    /// checkpoint and F16 otherwise (llama.cpp's `--outtype auto`).
    public var type: GGMLType?
    /// Write `ponder.stage_format = true` (also set for LLaVA-CoT checkpoints).
    public var stageFormat = false
    /// A quantized text model (Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K), quantized straight from the
    /// checkpoint's values with llama.cpp's per-tensor mix; the projector is then F16.
    /// Overrides `type`.
    public var quantization: QuantizationTarget?

    public init(outputPath: String, type: GGMLType? = nil, stageFormat: Bool = false,
                quantization: QuantizationTarget? = nil) {
        self.outputPath = outputPath
        self.type = type
        self.stageFormat = stageFormat
        self.quantization = quantization
    }

    /// Reads `--type`: F32, F16, BF16, or a quantization (Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K).
    public static func outputType(named name: String) throws(ConvertError) -> (type: GGMLType?, quantization: QuantizationTarget?) {
        if let target = QuantizationTarget(name: name) {
            return target.isQuantized ? (nil, target) : (target.defaultType, nil)
        }
        throw ConvertError(file: name, kind: .unsupportedOutputType(name, supported: QuantizationTarget.allCases.map(\.name)))
    }
}

/// Where a conversion is, for a progress display.
public struct ConvertProgress: Sendable {
    public var file: String
    /// 1-based index of the tensor being written, over every file.
    public var tensorIndex: Int
    public var tensorCount: Int
    public var tensorName: String
    public var bytesWritten: Int
    public var totalBytes: Int
}

/// What a conversion wrote.
public struct ConvertSummary: Sendable {
    public struct File: Sendable {
        public var path: String
        public var tensorCount: Int
        public var byteCount: Int
    }

    public var architecture: String
    public var type: GGMLType
    /// The quantization of the text model, when one was asked for.
    public var quantization: QuantizationTarget?
    public var files: [File]
    public var seconds: Double
    /// Tensor bytes written (the data sections).
    public var tensorBytes: Int
}

/// `ponder convert`: a Hugging Face checkpoint folder to GGUF, one tensor at a time from the
/// mapped safetensors files into `GGUFStreamWriter`, row by row, so memory stays small
/// whatever the model's size.
public enum HFConverter {
    /// Output bytes converted per step (whole checkpoint rows).
    static let chunkBytes = 4 << 20

    public static func convert(folder: String, options: ConvertOptions,
                               progress: (ConvertProgress) -> Void = { _ in }) throws(ConvertError) -> ConvertSummary {
        let started = Date()
        let checkpoint = try HFCheckpoint(folder: folder)
        let family = try ConvertFamilies.family(for: checkpoint)
        let plans = try family.plans(for: checkpoint)
        let quantization = options.quantization.flatMap { $0.isQuantized ? $0 : nil }
        let requested = quantization.map { _ in GGMLType.f16 } ?? options.type ?? defaultType(checkpoint)
        guard TensorEncoding.supportedTypes.contains(requested) else {
            throw ConvertError(file: options.outputPath, kind: .unsupportedOutputType(
                requested.name, supported: TensorEncoding.supportedTypes.map(\.name)))
        }
        let stageFormat = options.stageFormat || checkpoint.isLLaVACoT
        var prepared: [(path: String, plan: ConvertPlan, tensors: [GGUFStreamWriter.TensorPlan])] = []
        for plan in plans {
            let path = outputPath(for: plan.role, options.outputPath)
            var plan = plan
            var tensors = plan.tensors.map { tensor in
                GGUFStreamWriter.TensorPlan(name: tensor.name, dimensions: tensor.dimensions,
                                            type: TensorEncoding.type(for: tensor.name, dimensions: tensor.dimensions,
                                                                      requested: requested, rule: tensor.rule))
            }
            if let quantization, plan.role == .text {
                // llama.cpp's flow (convert, then llama-quantize) on the values themselves: the
                // mix picks each tensor's type from the tensor as converted to F32.
                let base = plan.tensors.map { tensor in
                    QuantizationPlan.Tensor(name: tensor.name, dimensions: tensor.dimensions,
                                            type: TensorEncoding.type(for: tensor.name, dimensions: tensor.dimensions,
                                                                      requested: .f32, rule: tensor.rule))
                }
                let architecture: String
                if case .string(let name) = plan.value("general.architecture") { architecture = name } else { architecture = "llama" }
                var layers = 0
                if case .uint32(let count) = plan.value("\(architecture).block_count") { layers = Int(count) }
                let types = QuantizationPlan.types(for: base, target: quantization, architecture: architecture, layerCount: layers)
                for index in tensors.indices { tensors[index].type = types[index] }
                finishMetadata(&plan, type: requested, stageFormat: stageFormat)
                plan.set("general.file_type", .uint32(quantization.fileType))
                prepared.append((path, plan, tensors))
                continue
            }
            finishMetadata(&plan, type: requested, stageFormat: stageFormat && plan.role == .text)
            prepared.append((path, plan, tensors))
        }
        let totalBytes = prepared.reduce(0) { $0 + $1.tensors.reduce(0) { $0 + ($1.byteCount ?? 0) } }
        let tensorCount = prepared.reduce(0) { $0 + $1.tensors.count }
        var written = 0, index = 0
        var files: [ConvertSummary.File] = []
        for (path, plan, tensorPlans) in prepared {
            let writer: GGUFStreamWriter
            do {
                writer = try GGUFStreamWriter(path: path, metadata: plan.metadata, tensors: tensorPlans)
            } catch {
                throw ConvertError(file: path, kind: .write(error))
            }
            for (tensor, target) in zip(plan.tensors, tensorPlans) {
                index += 1
                var report = ConvertProgress(file: path, tensorIndex: index, tensorCount: tensorCount, tensorName: tensor.name,
                                             bytesWritten: written, totalBytes: totalBytes)
                progress(report)
                try write(tensor, as: target.type, from: checkpoint, into: writer) { bytes in
                    written += bytes
                    report.bytesWritten = written
                    progress(report)
                }
            }
            do {
                try writer.finish()
            } catch {
                throw ConvertError(file: path, kind: .write(error))
            }
            let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
            files.append(.init(path: path, tensorCount: tensorPlans.count, byteCount: size))
        }
        let architecture = prepared.first.flatMap { entry -> String? in
            if case .string(let name) = entry.plan.value("general.architecture") { return name } else { return nil }
        } ?? "?"
        var summary = ConvertSummary(architecture: architecture, type: requested, files: files,
                                     seconds: Date().timeIntervalSince(started), tensorBytes: totalBytes)
        summary.quantization = quantization
        return summary
    }

    /// `FILE.gguf` for the text model, `mmproj-FILE.gguf` in the same folder for a projector.
    public static func outputPath(for role: ConvertPlan.Role, _ textPath: String) -> String {
        guard role == .projector else { return textPath }
        let path = textPath as NSString
        return path.deletingLastPathComponent.isEmpty ? "mmproj-" + path.lastPathComponent
            : (path.deletingLastPathComponent as NSString).appendingPathComponent("mmproj-" + path.lastPathComponent)
    }

    /// As llama.cpp's `--outtype auto`: the type of the first BF16 or F16 matrix of the
    /// checkpoint, F16 when all are F32.
    static func defaultType(_ checkpoint: HFCheckpoint) -> GGMLType {
        for name in checkpoint.weights.tensorNames {
            guard let (_, tensor) = try? checkpoint.weights.tensor(name), tensor.shape.count >= 2 else { continue }
            if tensor.dataType == .bf16 { return .bf16 }
            if tensor.dataType == .f16 { return .f16 }
        }
        return .f16
    }

    /// `general.size_label`, `general.file_type`, `general.quantization_version` and Ponder's keys.
    static func finishMetadata(_ plan: inout ConvertPlan, type: GGMLType, stageFormat: Bool) {
        let parameters = plan.tensors.reduce(0) { $0 + $1.elementCount }
        var keys = plan.metadata
        let label: (key: String, value: GGUFValue) = ("general.size_label", .string(GeneralMetadata.sizeLabel(parameters: parameters)))
        if let name = keys.firstIndex(where: { $0.key == "general.name" }) { keys.insert(label, at: name + 1) } else { keys.append(label) }
        plan.metadata = keys
        plan.set("general.file_type", .uint32(TensorEncoding.fileType(for: type)))
        plan.set("general.quantization_version", .uint32(2))
        if stageFormat { plan.set("ponder.stage_format", .bool(true)) }
    }
}
