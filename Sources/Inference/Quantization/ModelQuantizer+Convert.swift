#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GGUF

extension ModelQuantizer {
    /// Converts one tensor in slabs of whole rows: dequantize to f32 (in parallel over rows),
    /// quantize to `type` (in parallel), and stream the bytes to `writer`. `progress` gets the
    /// input bytes of the tensor done after each slab.
    func convert(_ tensor: GGUFTensorInfo, of file: GGUFFile, to type: GGMLType, writer: GGUFStreamWriter,
                 pool: ThreadPool, buffers: inout SlabBuffers, progress: (Int) -> Void) throws {
        let rowLength = tensor.rowLength
        guard tensor.type.canDequantize else {
            throw QuantizationError(kind: .dequantization(DequantizationError(type: tensor.type, kind: .unsupportedType)),
                                    file: file.path, tensor: tensor.name)
        }
        guard type.canQuantize else {
            throw QuantizationError(kind: .unsupportedType(type), tensor: tensor.name)
        }
        guard rowLength > 0, let outputRowBytes = type.rowByteCount(rowLength: rowLength),
              let inputRowBytes = tensor.type.rowByteCount(rowLength: rowLength) else {
            throw QuantizationError(kind: .rowLengthNotMultipleOfBlock(rowLength: rowLength, type: type),
                                    file: file.path, tensor: tensor.name)
        }
        let data = file.data(for: tensor)
        let rowCount = tensor.rowCount
        let rowsPerSlab = max(1, min(rowCount, slabElements / rowLength))
        let floats = buffers.floats(rowsPerSlab * rowLength)            // [rowsPerSlab × rowLength]
        let bytes = buffers.bytes(rowsPerSlab * outputRowBytes)         // [rowsPerSlab × outputRowBytes]
        var row = 0
        while row < rowCount {
            let rows = row..<min(rowCount, row + rowsPerSlab)
            try dequantize(rows, rowLength: rowLength, type: tensor.type, data: data, into: floats, pool: pool)
            let source = UnsafeBufferPointer(rebasing: floats[0..<(rows.count * rowLength)])
            let destination = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<(rows.count * outputRowBytes)])
            do {
                try type.quantize(rows: source, rowLength: rowLength, into: destination, pool: pool)
            } catch {
                throw QuantizationError(kind: error.kind, file: file.path, tensor: tensor.name)
            }
            try writer.writePart(UnsafeRawBufferPointer(destination), for: tensor.name)
            row = rows.upperBound
            progress(row * inputRowBytes)
        }
    }

    /// Dequantizes `rows` into the start of `destination`, spread over the pool.
    private func dequantize(_ rows: Range<Int>, rowLength: Int, type: GGMLType, data: UnsafeRawBufferPointer,
                            into destination: UnsafeMutableBufferPointer<Float>, pool: ThreadPool) throws {
        let failure = UnsafeMutablePointer<DequantizationError?>.allocate(capacity: 1)
        failure.initialize(to: nil)
        defer { failure.deinitialize(count: 1); failure.deallocate() }
        let failed = Failed(pointer: failure)
        pool.parallelFor(rows.count, granularity: max(1, 4096 / rowLength)) { part in
            let target = UnsafeMutableBufferPointer(rebasing: destination[(part.lowerBound * rowLength)...])
            do throws(DequantizationError) {
                try type.dequantizeRows((rows.lowerBound + part.lowerBound)..<(rows.lowerBound + part.upperBound),
                                        rowLength: rowLength, of: data, into: target)
            } catch {
                failed.record(error)
            }
        }
        if let error = failure.pointee { throw QuantizationError(kind: .dequantization(error)) }
    }
}

/// Tells the kernel that the mapped pages wholly inside `bytes` (a tensor of a file that
/// `GGUFFile(path:)` mapped read-only) are no longer needed, as llama.cpp unmaps each weight
/// after quantizing it: the resident size stays at a tensor or two, not the whole input.
/// The pages are file-backed, so a later read faults them in again. Never call it on a
/// `GGUFFile(bytes:)`, whose memory is anonymous.
func releaseMappedPages(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (Int(bitPattern: base) + page - 1) / page * page
    let end = (Int(bitPattern: base) + bytes.count) / page * page
    guard end > start, let address = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(address, end - start, Int32(MADV_DONTNEED))
}

/// The first dequantization error of a parallel slab (any one will do: they all name the type).
private struct Failed: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<DequantizationError?>
    func record(_ error: DequantizationError) { pointer.pointee = error }
}

/// The two reusable buffers of a conversion, grown to the largest slab seen.
struct SlabBuffers {
    private var floatStorage = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private var byteStorage = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    mutating func floats(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        if floatStorage.count < count {
            floatStorage.deallocate()
            floatStorage = .allocate(capacity: count)
        }
        return floatStorage
    }

    mutating func bytes(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if byteStorage.count < count {
            byteStorage.deallocate()
            byteStorage = .allocate(byteCount: count, alignment: 64)
        }
        return byteStorage
    }

    mutating func release() {
        floatStorage.deallocate()
        byteStorage.deallocate()
        floatStorage = .init(start: nil, count: 0)
        byteStorage = .init(start: nil, count: 0)
    }
}
