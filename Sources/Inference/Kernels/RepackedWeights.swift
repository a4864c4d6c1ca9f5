import CKernels
import Foundation
import GGUF

/// A weight matrix repacked at load for the outer-product kernels (`ck_repacked_gemm`):
/// sixteen rows interleaved four bytes at a time, the same size as the file's blocks (Q4_K
/// +2.8% for byte-wide scales). The mapped pages of the original are released after
/// repacking, so the weights are resident once.
public final class RepackedWeights: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    /// Bytes of one set of sixteen rows.
    let setBytes: Int
    /// Sets of sixteen rows (the last one padded with zero rows).
    let sets: Int

    public var byteCount: Int { setBytes * sets }

    /// Whether `type` is repacked on this CPU.
    public static func supports(_ type: GGMLType) -> Bool {
        _ = MatMul.variantFromEnvironment
        return ck_repack_supported(Int32(type.rawValue)) != 0
    }

    /// Repacks `matrix` (in parallel), or nil when its type has no repacked kernel here.
    init?(_ matrix: WeightMatrix) {
        let type = Int32(matrix.type.rawValue)
        guard Self.supports(matrix.type), matrix.rows > 0, let source = matrix.data.baseAddress else { return nil }
        setBytes = ck_repack_set_bytes(type, Int64(matrix.columns))
        sets = (matrix.rows + 15) / 16
        guard setBytes > 0 else { return nil }
        base = UnsafeMutableRawPointer.allocate(byteCount: setBytes * sets, alignment: 64)
        let chunks = min(sets, 64), perChunk = (sets + chunks - 1) / chunks
        // Addresses cross into the concurrent closure as integers (pointers are not Sendable).
        let target = Int(bitPattern: base), origin = Int(bitPattern: source)
        let rows = matrix.rows, columns = matrix.columns, rowBytes = matrix.rowByteCount, sets = sets
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = chunk * perChunk, end = min(sets, start + perChunk)
            guard start < end, let destination = UnsafeMutableRawPointer(bitPattern: target),
                  let weights = UnsafeRawPointer(bitPattern: origin) else { return }
            ck_repack(type, Int64(columns), weights, rowBytes, Int64(rows), Int64(start), Int64(end), destination)
        }
    }

    deinit { base.deallocate() }

    /// Drops the resident pages of a mapped region (those wholly inside it); they come back
    /// from the file if something reads them again (an embedding lookup reads a few rows).
    static func releasePages(of data: UnsafeRawBufferPointer) {
        guard let start = data.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (Int(bitPattern: start) + page - 1) / page * page
        let last = (Int(bitPattern: start) + data.count) / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, last - first, MADV_DONTNEED)
    }
}

extension WeightMatrix {
    /// This matrix with its repacked copy, its mapped pages released; itself when its type has
    /// no repacked kernel on this CPU.
    public func withRepackedRows() -> WeightMatrix {
        guard repacked == nil, let packed = RepackedWeights(self) else { return self }
        RepackedWeights.releasePages(of: data)
        var copy = self
        copy.repacked = packed
        return copy
    }
}
