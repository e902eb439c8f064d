/// Branch-free, call-free math that the compiler can vectorise (libm's expf cannot be).
public enum FastMath {
    /// e^x to about 2e-7 relative error for x in [-87, 88] (inputs outside are clamped):
    /// 2^(x log2 e) split into an integer power of two, built in the exponent bits, and a
    /// degree-6 minimax polynomial for 2^f on [0, 1).
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let t = min(max(x, -87.3), 88.7) * 1.442_695_041
        let n = t.rounded(.down)
        let f = t - n
        var p: Float = 1.535_336_188_319_500e-4
        p = p * f + 1.339_887_440_266_574e-3
        p = p * f + 9.618_437_357_674_640e-3
        p = p * f + 5.550_332_471_162_809e-2
        p = p * f + 2.402_264_791_363_012e-1
        p = p * f + 6.931_472_028_550_421e-1
        p = p * f + 1
        return p * Float(bitPattern: UInt32(truncatingIfNeeded: (Int32(n) + 127) << 23))
    }

    /// silu(x) = x * sigmoid(x).
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }
}
