import Foundation

/// How RoPE's inverse frequencies are derived from `rope_theta` (config.json `rope_parameters`,
/// or `rope_scaling` in the transformers 4 layout). Each case computes exactly what HF
/// transformers' `ROPE_INIT_FUNCTIONS` compute, in float32 and in the same order of operations.
/// The types transformers also knows (`dynamic`, `yarn`, `longrope`, ...) are refused on load.
public enum RoPEScaling: Sendable, Equatable, Codable {
    /// `rope_type` "default": `inv_freq[i] = 1 / theta^(2i/D)`.
    case none
    /// `rope_type` "linear": the default frequencies divided by `factor` (position interpolation).
    case linear(factor: Double)
    /// `rope_type` "llama3": long wavelengths divided by `factor`, short ones kept, and a smooth
    /// blend between `original / lowFreqFactor` and `original / highFreqFactor` positions.
    case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositions: Int)

    /// The `rope_type` name in config.json.
    public var typeName: String {
        switch self {
        case .none: return "default"
        case .linear: return "linear"
        case .llama3: return "llama3"
        }
    }

    /// The inverse frequency of each of the `headDim / 2` rotated pairs.
    public func inverseFrequencies(headDim: Int, theta: Float) -> [Float] {
        // As transformers: 1 / base ** (arange(0, dim, 2).float() / dim), all in float32.
        let base = (0..<(headDim / 2)).map { i in 1 / powf(theta, Float(2 * i) / Float(headDim)) }
        switch self {
        case .none:
            return base
        case .linear(let factor):
            return base.map { $0 / Float(factor) }
        case .llama3(let factor, let low, let high, let original):
            let lowFreqWavelength = Float(Double(original) / low)
            let highFreqWavelength = Float(Double(original) / high)
            let factor = Float(factor)
            return base.map { invFreq in
                let wavelength = Float(2 * Double.pi) / invFreq
                if wavelength < highFreqWavelength { return invFreq }
                if wavelength > lowFreqWavelength { return invFreq / factor }
                let smooth = (Float(original) / wavelength - Float(low)) / Float(high - low)
                return (1 - smooth) * invFreq / factor + smooth * invFreq
            }
        }
    }
}
