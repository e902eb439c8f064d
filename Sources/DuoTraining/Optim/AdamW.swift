import CKernels
import DuoEngine
import Foundation

/// Hyperparameters of AdamW (decoupled weight decay, PyTorch semantics).
public struct AdamWSettings: Sendable, Equatable, Codable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var epsilon: Float = 1e-8
    public var weightDecay: Float = 0.1
    /// Whether 1-D tensors (norm gains) are decayed too; false as is usual.
    public var decayVectors = false

    public init(beta1: Float = 0.9, beta2: Float = 0.95, epsilon: Float = 1e-8, weightDecay: Float = 0.1, decayVectors: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decayVectors = decayVectors
    }
}

/// AdamW over a list of parameter tensors with first and second moment buffers.
public final class AdamW {
    public let settings: AdamWSettings
    public let parameters: [(String, Tensor)]
    /// First and second moments, one pair per parameter, in the same order.
    public let firstMoments: [Tensor]
    public let secondMoments: [Tensor]
    /// Updates applied so far (bias correction uses it).
    public var step = 0

    public init(parameters: [(String, Tensor)], settings: AdamWSettings) {
        self.parameters = parameters
        self.settings = settings
        firstMoments = parameters.map { Tensor(shape: $0.1.shape) }
        secondMoments = parameters.map { Tensor(shape: $0.1.shape) }
        list = ParameterList(parameters.map(\.1))
    }

    /// The parameters, updated end to end in slices across the cores.
    private let list: ParameterList

    /// One update with learning rate `lr` from `gradients` (same order as `parameters`), each
    /// multiplied by `gradientScale` as it is read: the clipping coefficient of
    /// `GradientClipping.scale`, applied here so that clipping needs no pass over the gradients
    /// of its own (they are left as they are). `simd` picks a lower instruction set for tests.
    public func update(gradients: [Tensor], lr: Float, gradientScale: Float = 1, simd: SIMDLevel = .active) {
        step += 1
        let s = settings
        let correction1 = 1 - powf(s.beta1, Float(step))
        let correction2 = 1 - powf(s.beta2, Float(step))
        let stepSize = lr / correction1
        let inverseSqrtCorrection2 = 1 / correction2.squareRoot()
        let decays = parameters.map { (_, p) in (p.shape.count >= 2 || s.decayVectors) ? 1 - lr * s.weightDecay : 1 }
        list.forEachPiece { t, r in
            duo_adamw(
                simd.rawValue, parameters[t].1.data + r.lowerBound, firstMoments[t].data + r.lowerBound,
                secondMoments[t].data + r.lowerBound, gradients[t].data + r.lowerBound, r.count, gradientScale, s.beta1, s.beta2,
                decays[t], stepSize, inverseSqrtCorrection2, s.epsilon)
        }
        for (_, p) in parameters { p.weightsChanged() }
    }
}

/// Global L2 norm of gradients, and the coefficient that clips it to `maxNorm` (torch.nn.utils.clip_grad_norm_).
public enum GradientClipping {
    public static func norm(_ gradients: [Tensor]) -> Double { ParameterList(gradients).norm() }

    /// The global norm of `gradients` and the factor that brings it to at most `maxNorm` (1 when
    /// it is already), for `AdamW.update(gradients:lr:gradientScale:)`.
    public static func scale(_ gradients: [Tensor], maxNorm: Double) -> (norm: Double, scale: Float) {
        let total = norm(gradients)
        let coefficient = maxNorm / (total + 1e-6)
        return (total, coefficient < 1 ? Float(coefficient) : 1)
    }
}

/// Linear warmup to the peak rate, then cosine decay to `minRatio` of it at `totalSteps`.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minRatio: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, minRatio: Float = 0.1) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minRatio = minRatio
    }

    /// The rate for update number `step` (0-based).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = max(totalSteps - warmupSteps, 1)
        let progress = min(Float(step - warmupSteps) / Float(span), 1)
        let cosine = 0.5 * (1 + cosf(Float.pi * progress))
        return peak * (minRatio + (1 - minRatio) * cosine)
    }
}
