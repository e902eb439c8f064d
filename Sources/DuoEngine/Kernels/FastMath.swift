/// Branch-free, call-free math that the compiler can vectorise (libm's expf cannot be).
public enum FastMath {
    /// e^x to a relative error under 3e-7 + 8e-8 |x| for x in [-87, 88] (measured; most of it
    /// is x log2 e rounded to a float; inputs outside are clamped, NaN stays NaN):
    /// 2^(x log2 e) split into an integer power of two, built in the exponent bits, and a
    /// degree-6 polynomial fitted to 2^f on [0, 1) (error 2e-9 in exact arithmetic). The floor is taken with the
    /// 1.5 * 2^23 rounding trick and compares, not a libm call, so loops over it vectorise on
    /// any x86-64 (measured 3.5x faster than `rounded(.down)` on SSE2, same values).
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        var t = x * 1.442_695_041
        t = t < -126 ? -126 : t
        t = t > 127.9 ? 127.9 : t
        // Adding and removing 1.5 * 2^23 rounds t to the nearest whole number; one step down
        // when that went up gives the floor.
        var n = (t + 12_582_912) - 12_582_912
        n = n > t ? n - 1 : n
        let f = t - n
        var p: Float = 2.169_060_915e-4
        p = p * f + 1.244_308_152e-3
        p = p * f + 9.678_472_554e-3
        p = p * f + 5.548_352_472e-2
        p = p * f + 2.402_297_958e-1
        p = p * f + 6.931_469_871e-1
        p = p * f + 1
        // n + 1.5 * 2^23 holds n in its low mantissa bits: move n + 127 into the exponent field.
        return p * Float(bitPattern: ((n + 12_582_912).bitPattern &- (0x4B40_0000 - 127)) &<< 23)
    }
}
