import CKernels
import GGUF
import Testing
@testable import Inference

/// The decode kernels of Q2_K, Q3_K (against Q8_K activations), IQ4_NL (against Q8 per 32) and
/// IQ4_XS (against Q8_K), at each CPU level this machine has: 1 is AVX2, 2 adds AVX-512 VNNI.
@Suite("Decode kernels for Q2_K, Q3_K, IQ4_NL, IQ4_XS")
struct MatMulDecodeKernelTests {
    static let types: [GGMLType] = [.q2_K, .q3_K, .iq4_nl, .iq4_xs]
    static let levels: [Int32] = [1, 2]
    static let pool = ThreadPool(threadCount: 2)

    /// Runs `body` with the kernels capped at `level`; nothing when this CPU lacks the level.
    static func atLevel(_ level: Int32, _ body: () throws -> Void) rethrows {
        ck_set_cpu_level_cap(-1)
        guard ck_cpu_level() >= level else { return }
        ck_set_cpu_level_cap(level)
        defer { ck_set_cpu_level_cap(-1) }
        try body()
    }

    /// Two super-blocks, or eleven 32-blocks (one pass of eight and a tail of three).
    static func columns(for type: GGMLType) -> Int { type.blockSize == 32 ? 352 : 512 }

    @Test("decode equals the math on quantized activations and stays within their rounding of the reference path",
          arguments: types, levels)
    func decodeAgainstReference(type: GGMLType, level: Int32) {
        Self.atLevel(level) {
            #expect(MatMul.hasDecodeKernel(for: type))
            let c = MatMulCase(type: type, rows: 37, columns: Self.columns(for: type), seed: 101 + UInt64(type.rawValue))
            for batch in 1...5 {
                let x = c.input(batch: batch, seed: UInt64(batch))
                let decode = c.multiply(x, batch: batch, pool: Self.pool, path: .decode)
                let reference = c.multiply(x, batch: batch, pool: Self.pool, path: .reference)
                let exact = c.quantizedActivationError(decode, x, batch: batch)
                #expect(exact < 1e-5, "\(type) level \(level) batch \(batch): \(exact)")
                let ratio = c.errorRatio(decode, x, batch: batch, quantizedActivations: true)
                #expect(ratio <= 1, "\(type) level \(level) batch \(batch): \(ratio)")
                let referenceRatio = c.errorRatio(reference, x, batch: batch, quantizedActivations: false)
                #expect(referenceRatio <= 1, "\(type) reference batch \(batch): \(referenceRatio)")
            }
        }
    }

    @Test("a batch of 1…5 rows gives each row the same bits as that row alone", arguments: types, levels)
    func batchedEqualsSingle(type: GGMLType, level: Int32) {
        Self.atLevel(level) {
            let c = MatMulCase(type: type, rows: 19, columns: Self.columns(for: type), seed: 7)
            let x = c.input(batch: 5, seed: 9)
            let single = (0..<5).flatMap { b in
                c.multiply(Array(x[(b * c.columns)..<((b + 1) * c.columns)]), batch: 1, pool: Self.pool, path: .decode)
            }
            for batch in 1...5 {
                let batched = c.multiply(Array(x.prefix(batch * c.columns)), batch: batch, pool: Self.pool, path: .decode)
                let same = zip(batched, single).allSatisfy { $0.bitPattern == $1.bitPattern }
                #expect(same, "\(type) level \(level) batch \(batch)")
            }
        }
    }

    /// The tolerance of `decodeAgainstReference` is tight enough to see one scale gone wrong:
    /// the decode of a matrix with one sub-block scale (one block's `d` for IQ4_NL) changed,
    /// judged against the original matrix, fails it.
    @Test("the tolerance catches one wrong scale", arguments: types)
    func wrongScaleIsCaught(type: GGMLType) {
        let c = MatMulCase(type: type, rows: 9, columns: Self.columns(for: type), seed: 3)
        var bytes = c.bytes
        let block = 3 * c.columns / type.blockSize * type.typeSize + type.typeSize   // row 3, block 1
        switch type {
        case .q2_K: bytes[block] ^= 0x01                // scales[0], low nibble: the scale
        case .q3_K: bytes[block + 96] ^= 0x01           // low bits of sub-block 0's scale
        case .iq4_nl: bytes[block + 1] ^= 0x01          // bit 8 of d: a quarter off
        default: bytes[block + 4] ^= 0x01               // IQ4_XS: low bits of sub-block 0's scale
        }
        let wrong = MatMulCase(type: type, rows: c.rows, columns: c.columns, bytes: bytes)
        let x = c.input(batch: 2, seed: 5)
        let output = wrong.multiply(x, batch: 2, pool: Self.pool, path: .decode)
        #expect(wrong.quantizedActivationError(output, x, batch: 2) < 1e-5)
        let error = c.quantizedActivationError(output, x, batch: 2)
        #expect(error > 1e-4, "\(type): \(error)")
    }
}
