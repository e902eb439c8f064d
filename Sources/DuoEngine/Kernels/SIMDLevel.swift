import CKernels
import Foundation

/// The instruction set that the element-wise C kernels (Sources/CKernels: exp sums, maxima,
/// SwiGLU and the backward passes of SwiGLU, softmax and RMSNorm) run with: the best the CPU
/// and its operating system support, found with cpuid at start, or a lower one named by
/// `DUOSCOPE_SIMD` (baseline, avx2, avx512) for comparisons.
public enum SIMDLevel: Int32, CaseIterable, Sendable, Comparable {
    case baseline = 0
    case avx2 = 1
    case avx512 = 2

    /// The best level this machine runs.
    public static let detected = SIMDLevel(rawValue: duo_simd_detect()) ?? .baseline

    /// The level the kernels use: `detected`, or `DUOSCOPE_SIMD` when that names a lower one.
    public static let active: SIMDLevel = {
        let requested = ProcessInfo.processInfo.environment[environmentVariable].flatMap { name in
            allCases.first { $0.name == name.lowercased() }
        }
        return min(requested ?? detected, detected)
    }()

    /// The variable that lowers the level.
    public static let environmentVariable = "DUOSCOPE_SIMD"

    /// The levels this machine can run, lowest first (the tests check each).
    public static var supported: [SIMDLevel] { allCases.filter { $0 <= detected } }

    public var name: String {
        switch self {
        case .baseline: "baseline"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }

    public static func < (a: SIMDLevel, b: SIMDLevel) -> Bool { a.rawValue < b.rawValue }
}
