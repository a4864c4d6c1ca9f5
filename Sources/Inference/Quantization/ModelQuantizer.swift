import Foundation
import GGUF

/// Converts a GGUF model file to a `QuantizationTarget`, as `llama_model_quantize` does with
/// no importance matrix: the same metadata (with `general.file_type` and
/// `general.quantization_version` set), the same tensors, each of the type
/// `QuantizationPlan` chooses, quantized bit-identically to llama.cpp.
///
/// The input is memory-mapped and the output streamed: one slab of rows of one tensor is
/// dequantized to f32 and re-quantized at a time, so memory stays at about two slabs
/// whatever the model's size. A tensor that already has its planned type is copied as is.
public struct ModelQuantizer: Sendable {
    /// Where a conversion stands, after each slab of rows.
    public struct Progress: Sendable {
        /// 1-based index of the tensor being converted, and the tensor count.
        public var tensorIndex: Int
        public var tensorCount: Int
        public var tensorName: String
        /// Input bytes done so far (whole tensors and slabs), and the input's tensor bytes.
        public var bytesDone: Int
        public var bytesTotal: Int
    }

    /// What a conversion did.
    public struct Summary: Sendable {
        public var inputBytes: Int
        public var outputBytes: Int
        public var seconds: Double
        public var tensorCount: Int
        /// Tensors that changed type (the rest were copied).
        public var convertedCount: Int
        /// Output tensor count per type.
        public var typeCounts: [GGMLType: Int]
    }

    public var target: QuantizationTarget
    public var threadCount: Int
    /// Floats converted at once; a slab is at least one row.
    public var slabElements: Int

    public init(target: QuantizationTarget, threadCount: Int = ThreadPool.coreCount, slabElements: Int = 1 << 24) {
        self.target = target
        self.threadCount = max(1, threadCount)
        self.slabElements = max(1, slabElements)
    }

    /// The planned output type of every tensor of `file`, in file order.
    public func plan(for file: GGUFFile) -> [GGMLType] {
        let architecture = file.architecture ?? ""
        let layers = (try? file.optionalInt("\(architecture).block_count")) ?? nil
        let heads = (try? file.optionalInt("\(architecture).attention.head_count")) ?? nil
        let kvHeads = (try? file.optionalInt("\(architecture).attention.head_count_kv")) ?? nil
        // llama.cpp's LLM_TYPE_70B: 80 layers, grouped KV heads for llama.
        let seventyB = layers == 80 && (architecture == "qwen2" || (architecture == "llama" && kvHeads != nil && kvHeads != heads))
        let tensors = file.tensors.map { QuantizationPlan.Tensor(name: $0.name, dimensions: $0.dimensions, type: $0.type) }
        return QuantizationPlan.types(for: tensors, target: target, architecture: architecture,
                                      layerCount: layers ?? 0, isSeventyB: seventyB)
    }

    /// The input's metadata with the file type and quantization version set and the split
    /// keys removed, in the input's order.
    public func metadata(for file: GGUFFile) -> [(key: String, value: GGUFValue)] {
        var metadata = file.metadata.filter { !$0.key.hasPrefix("split.") && $0.key != "general.alignment" }
        for (key, value) in [("general.quantization_version", GGUFValue.uint32(2)),
                             ("general.file_type", .uint32(target.fileType))] {
            if let index = metadata.firstIndex(where: { $0.key == key }) {
                metadata[index].value = value
            } else {
                metadata.append((key, value))
            }
        }
        return metadata
    }

    /// Converts `input` into `output` (written to `output.partial`, renamed when complete).
    public func quantize(input: String, output: String,
                         progress: ((Progress) -> Void)? = nil) throws(QuantizationError) -> Summary {
        let start = ContinuousClock.now
        let inputURL = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath()
        let outputURL = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath()
        guard inputURL.path != outputURL.path else { throw QuantizationError(kind: .sameFile, file: output) }
        let file: GGUFFile
        do {
            file = try GGUFFile(path: input)
        } catch {
            throw QuantizationError(kind: .file(error))
        }
        let types = plan(for: file)
        let plans = zip(file.tensors, types).map {
            GGUFStreamWriter.TensorPlan(name: $0.name, dimensions: $0.dimensions, type: $1)
        }
        let writer: GGUFStreamWriter
        do {
            writer = try GGUFStreamWriter(path: output, metadata: metadata(for: file), tensors: plans,
                                          alignment: file.alignment)
        } catch {
            throw QuantizationError(kind: .file(error))
        }
        let pool = ThreadPool(threadCount: threadCount)
        var buffers = SlabBuffers()
        defer { buffers.release() }
        let total = file.tensors.reduce(0) { $0 + $1.byteCount }
        var done = 0
        for (index, (tensor, type)) in zip(file.tensors, types).enumerated() {
            let report = { (bytes: Int) in
                progress?(Progress(tensorIndex: index + 1, tensorCount: file.tensors.count, tensorName: tensor.name,
                                   bytesDone: bytes, bytesTotal: total))
            }
            report(done)
            do {
                if type == tensor.type {
                    try writer.write(file.data(for: tensor), for: tensor.name)
                } else {
                    try convert(tensor, of: file, to: type, writer: writer, pool: pool, buffers: &buffers) { slabBytes in
                        report(done + slabBytes)
                    }
                }
            } catch var error as QuantizationError {
                error.file = error.file ?? input
                error.tensor = error.tensor ?? tensor.name
                throw error
            } catch let error as GGUFError {
                throw QuantizationError(kind: .file(error), tensor: tensor.name)
            } catch {
                throw QuantizationError(kind: .file(GGUFError(file: output, kind: .writeFailed(reason: "\(error)"))),
                                        tensor: tensor.name)
            }
            releaseMappedPages(file.data(for: tensor))
            done += tensor.byteCount
        }
        progress?(Progress(tensorIndex: file.tensors.count, tensorCount: file.tensors.count,
                           tensorName: file.tensors.last?.name ?? "", bytesDone: done, bytesTotal: total))
        do {
            try writer.finish()
        } catch {
            throw QuantizationError(kind: .file(error))
        }
        let outputBytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? nil
        let elapsed = (ContinuousClock.now - start).components
        return Summary(inputBytes: file.fileSize, outputBytes: outputBytes ?? 0,
                       seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18,
                       tensorCount: file.tensors.count,
                       convertedCount: zip(file.tensors, types).filter { $0.type != $1 }.count,
                       typeCounts: types.reduce(into: [:]) { $0[$1, default: 0] += 1 })
    }
}
