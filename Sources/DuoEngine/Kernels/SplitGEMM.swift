/// Matrix products spread over the cores by `Parallel` rather than by BLAS's own threads: the
/// product is cut into one block of output rows or columns per core, each a single-threaded BLAS
/// call. The trainer runs its whole step this way (inside `Parallel.withSingleThreadedBLAS`), so
/// that BLAS's threads, which spin in `sched_yield` between calls, never compete for the cores
/// with the worker team that runs attention and the element-wise steps (perf: 14% of a training
/// step's samples were in the scheduler). Same arguments as the `BLAS` functions of the same name.
public enum SplitGEMM {
    /// Products smaller than this many multiply-adds run as one call.
    static let minimumWork = 1 << 20

    /// Which side of the output is cut into one block per core.
    public enum Cut: Sendable {
        /// The longer one (the trainer's thousands of rows: each core packs half of them).
        case longerSide
        /// The columns (a weight's outputs): each core packs only its part of the weight, which
        /// BLAS packs on every call; for the few hundred rows of an oracle frontier that copy
        /// costs as much as the multiply.
        case columns
    }

    /// C[m,n] = alpha * A[m,k] * B^T + beta * C, B stored [n,k].
    public static func gemmABt(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0, cut: Cut = .longerSide
    ) {
        split(m: m, n: n, k: k, cut: cut) { rows, columns in
            BLAS.gemmABt(
                m: rows.count, n: columns.count, k: k, a: a + rows.lowerBound * lda, lda: lda,
                b: b + columns.lowerBound * ldb, ldb: ldb, c: c + rows.lowerBound * ldc + columns.lowerBound, ldc: ldc,
                alpha: alpha, beta: beta)
        }
    }

    /// C[m,n] = alpha * A[m,k] * B[k,n] + beta * C.
    public static func gemmAB(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0
    ) {
        split(m: m, n: n, k: k) { rows, columns in
            BLAS.gemmAB(
                m: rows.count, n: columns.count, k: k, a: a + rows.lowerBound * lda, lda: lda,
                b: b + columns.lowerBound, ldb: ldb, c: c + rows.lowerBound * ldc + columns.lowerBound, ldc: ldc,
                alpha: alpha, beta: beta)
        }
    }

    /// C[m,n] = alpha * A^T B + beta * C, A stored [k,m], B stored [k,n].
    public static func gemmAtB(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0
    ) {
        split(m: m, n: n, k: k) { rows, columns in
            BLAS.gemmAtB(
                m: rows.count, n: columns.count, k: k, a: a + rows.lowerBound, lda: lda,
                b: b + columns.lowerBound, ldb: ldb, c: c + rows.lowerBound * ldc + columns.lowerBound, ldc: ldc,
                alpha: alpha, beta: beta)
        }
    }

    /// `x · W^T` (+ y) for rows of `x` against a weight [out, in], as `BLAS.linear`.
    public static func linear(
        _ x: UnsafePointer<Float>, rows m: Int, weight: Tensor, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
        cut: Cut = .longerSide
    ) {
        gemmABt(
            m: m, n: weight.rows, k: weight.columns, a: x, lda: weight.columns, b: weight.data, ldb: weight.columns,
            c: y, ldc: weight.rows, beta: accumulate ? 1 : 0, cut: cut)
    }

    /// Calls `block(rows, columns)` once per core with the output's side `cut` cut into slices
    /// of whole 16-element vector blocks, or once with the whole output when the product is
    /// small, there is one core, or the caller is already inside a job.
    private static func split(m: Int, n: Int, k: Int, cut: Cut = .longerSide, _ block: (Range<Int>, Range<Int>) -> Void) {
        let parts = Parallel.workers
        let rowsAreCut = cut == .longerSide && m >= n
        let side = rowsAreCut ? m : n
        guard parts > 1, !Parallel.isInsideJob, m * n * k >= minimumWork, side >= 16 * parts else {
            return block(0..<m, 0..<n)
        }
        Parallel.withSingleThreadedBLAS {
            Parallel.forEach(parts) { part in
                let slice = Parallel.share(part, of: parts, count: side, unit: 16)
                if rowsAreCut { block(slice, 0..<n) } else { block(0..<m, slice) }
            }
        }
    }
}
