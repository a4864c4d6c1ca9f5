import COpenBLAS
import Foundation

/// OpenBLAS chooses its kernels when the process loads it, from the CPU model; on a CPU newer
/// than the installed OpenBLAS it falls back to SSE3 kernels (see `ponder_openblas_better_core`).
/// Ponder then starts itself again with `OPENBLAS_CORETYPE` naming kernels the CPU runs, before
/// doing anything else. A user's own `OPENBLAS_CORETYPE` is left alone, and if the restart
/// fails Ponder goes on with the kernels it has.
enum OpenBLASCore {
    static func restartIfMisdetected() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let core = ponder_openblas_better_core() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
