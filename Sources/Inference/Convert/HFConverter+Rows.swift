import GGUF
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HFConverter {
    /// Streams one tensor into `writer`: checkpoint rows (along the PyTorch shape's first
    /// dimension) are decoded to f32 a chunk at a time, reordered by the row transform,
    /// encoded as `type` and appended. `advanced` gets the bytes of each chunk written.
    static func write(_ tensor: ConvertTensor, as type: GGMLType, from checkpoint: HFCheckpoint,
                      into writer: GGUFStreamWriter, advanced: (Int) -> Void) throws(ConvertError) {
        do {
            switch tensor.source {
            case .values(let values):
                guard values.count == tensor.elementCount else {
                    throw ConvertError(file: checkpoint.folder, kind: .wrongShape(tensor: tensor.name, expected: tensor.dimensions,
                                                                                  found: [values.count]))
                }
                var bytes = [UInt8](repeating: 0, count: TensorEncoding.byteCount(of: values.count, as: type))
                values.withUnsafeBufferPointer { source in
                    bytes.withUnsafeMutableBytes { TensorEncoding.encode(source, rowLength: tensor.rowLength, as: type, into: $0) }
                }
                try writer.write(bytes, for: tensor.name)
                advanced(bytes.count)
            case .checkpoint(let name, let transform):
                let (file, source) = try checkpoint.weights.tensor(name)
                try streamRows(of: source, in: file, transform: transform, tensor: tensor, as: type, into: writer, advanced: advanced)
                release(file.data(for: source))
            }
        } catch let error as ConvertError {
            throw error
        } catch let error as GGUFError {
            throw ConvertError(file: writer.path, kind: .write(error))
        } catch {
            throw ConvertError(file: writer.path, kind: .write(GGUFError(file: writer.path, kind: .writeFailed(reason: "\(error)"))))
        }
    }

    private static func streamRows(of source: SafetensorsTensor, in file: SafetensorsFile, transform: RowTransform,
                                   tensor: ConvertTensor, as type: GGMLType, into writer: GGUFStreamWriter,
                                   advanced: (Int) -> Void) throws {
        guard [.f32, .f16, .bf16].contains(source.dataType) else {
            throw ConvertError(file: file.path, kind: .unsupportedDataType(tensor: source.name, dataType: source.dataType.rawValue))
        }
        let count = source.elementCount
        guard count == tensor.elementCount else {
            throw ConvertError(file: file.path, kind: .wrongShape(tensor: source.name, expected: tensor.dimensions.reversed(),
                                                                  found: source.shape))
        }
        // Checkpoint rows: along the first PyTorch dimension; a 1-D tensor is one chunk.
        let rows = source.shape.count >= 2 ? source.shape[0] : max(count, 1)
        let rowLength = rows == 0 ? 0 : count / rows
        let outputRowBytes = TensorEncoding.byteCount(of: rowLength, as: type)
        let rowsPerChunk = source.shape.count >= 2
            ? max(1, chunkBytes / max(1, max(outputRowBytes, rowLength * 4))) : rows
        let data = file.data(for: source)
        let elementSize = source.dataType.byteSize
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, rowsPerChunk * rowLength))
        defer { scratch.deallocate() }
        let encoded = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, rowsPerChunk * outputRowBytes), alignment: 64)
        defer { encoded.deallocate() }
        try writer.write(tensor.name) { sink in
            var row = 0
            while row < rows {
                let chunkRows = min(rowsPerChunk, rows - row)
                for offset in 0..<chunkRows {
                    let from = transform.sourceRow(row + offset, rowCount: rows)
                    let input = data.baseAddress! + from * rowLength * elementSize
                    let output = scratch.baseAddress! + offset * rowLength
                    switch source.dataType {
                    case .f32: UnsafeMutableRawPointer(output).copyMemory(from: input, byteCount: rowLength * 4)
                    case .f16: HalfFloat.convertF16(input, to: output, count: rowLength)
                    default: HalfFloat.convertBF16(input, to: output, count: rowLength)
                    }
                }
                let values = UnsafeBufferPointer(rebasing: scratch[0..<(chunkRows * rowLength)])
                let bytes = UnsafeMutableRawBufferPointer(rebasing: encoded[0..<TensorEncoding.byteCount(of: values.count, as: type)])
                TensorEncoding.encode(values, rowLength: tensor.rowLength, as: type, into: bytes)
                try sink(UnsafeRawBufferPointer(bytes))
                advanced(bytes.count)
                if transform == .identity {
                    // Rows already converted are not read again: drop their pages.
                    release(UnsafeRawBufferPointer(rebasing: data[(row * rowLength * elementSize)..<((row + chunkRows) * rowLength * elementSize)]))
                }
                row += chunkRows
            }
        }
    }

    /// Drops the mapped pages of converted rows, so resident memory stays at a chunk's worth of
    /// pages whatever the tensor's size (they are file-backed and read-only: a later read
    /// faults them back in from the file).
    private static func release(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + bytes.count) / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
    }
}
