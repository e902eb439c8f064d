#if canImport(Accelerate)
    import Accelerate
#else
    import CBLAS
#endif

/// Thin wrappers over BLAS single-precision GEMM, row-major.
public enum BLAS {
    /// C[m,n] = alpha * A[m,k] * B^T + beta * C, with B stored [n,k] (nn.Linear weight layout).
    @inline(__always)
    public static func gemmABt(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        guard m > 0, n > 0 else { return }
        if m == 1 {
            // y = B x: one row against a weight matrix is a matrix-vector product.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, 1, beta, c, 1)
            return
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// C[m,n] = alpha * A[m,k] * B[k,n] + beta * C.
    @inline(__always)
    public static func gemmAB(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        guard m > 0, n > 0 else { return }
        if m == 1 {
            // y = B^T x for a single row of A.
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, 1, beta, c, 1)
            return
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `x · W^T` for rows of `x` [m, in] against a weight [out, in], into `y` [m, out].
    @inline(__always)
    public static func linear(
        _ x: UnsafePointer<Float>, rows m: Int, weight: Tensor, into y: UnsafeMutablePointer<Float>,
        accumulate: Bool = false
    ) {
        gemmABt(
            m: m, n: weight.rows, k: weight.columns, a: x, lda: weight.columns,
            b: weight.data, ldb: weight.columns, c: y, ldc: weight.rows, beta: accumulate ? 1 : 0)
    }

    /// C[m,n] = alpha * A^T B + beta * C with A stored [k,m] and B stored [k,n]
    /// (the weight gradient dW += dY^T X of a linear layer).
    @inline(__always)
    public static func gemmAtB(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if beta != 1 { for r in 0..<m { for j in 0..<n { c[r * ldc + j] *= beta } } }
            return
        }
        cblas_sgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
