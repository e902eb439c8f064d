import Foundation

#if canImport(Accelerate)
    import Accelerate
#else
    import CBLAS
#endif

/// Which BLAS this process runs and which of its kernels, and the fix for an OpenBLAS that does
/// not know the CPU. Debian 12's OpenBLAS 0.3.21 predates recent CPUs and silently falls back to
/// kernels below what they run: its generic Prescott kernels on an Intel Xeon of family 6 model
/// 207 (several times slower than its AVX-512 ones), its AVX2 Haswell kernels on an AMD EPYC of
/// family 26 (Zen 5; half the sgemm rate of its AVX-512 SkylakeX kernels there, measured in
/// docs/benchmarks.md). `ensureTunedKernels` re-executes the binary with `OPENBLAS_CORETYPE` set
/// to the best kernels the CPU can run, before any work starts.
public enum BLASCore {
    /// What `info` and `bench` print about the BLAS.
    public struct Info: Sendable, Codable, Equatable {
        /// e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
        public var library: String
        /// The kernels in use, e.g. "SkylakeX".
        public var core: String
        /// The kernels OpenBLAS chose itself when duoscope replaced them (nil when it did not).
        public var replacedCore: String?
        /// The CPU's model name and its vector extensions that matter for sgemm.
        public var cpu: String
        public var cpuFeatures: [String]
        /// The kernels are generic although the CPU has AVX2 or AVX-512: GEMM runs far below peak.
        public var genericFallback: Bool
        /// The kernels use less of the CPU's vectors than it has (generic, or AVX2 kernels on a
        /// CPU with AVX-512): GEMM runs below the machine's peak.
        public var kernelsBelowCPU: Bool
        /// The instruction set of duoscope's own element-wise kernels (`SIMDLevel.active`).
        public var elementwiseKernels: String = SIMDLevel.active.name

        /// One line for humans.
        public var summary: String {
            var line = "\(library) — kernels \(core)"
            if let replacedCore {
                let kind = BLASCore.level(of: replacedCore) == 0 ? "generic " : ""
                line += " (OpenBLAS had chosen its \(kind)\(replacedCore) kernels; duoscope switched)"
            }
            if genericFallback {
                line += " — GENERIC FALLBACK on a CPU with \(cpuFeatures.joined(separator: "/")): far below peak"
            } else if kernelsBelowCPU {
                line += " — KERNELS BELOW THE CPU, which has \(cpuFeatures.joined(separator: "/")): below peak"
            }
            return line + "; element-wise kernels \(elementwiseKernels); CPU \(cpu)"
        }
    }

    /// The environment variable that records the kernels OpenBLAS chose before a re-execution.
    static let replacedVariable = "DUOSCOPE_BLAS_REPLACED_CORE"
    /// Set to `keep` to keep whatever kernels OpenBLAS chose.
    static let keepVariable = "DUOSCOPE_BLAS_CORE"

    /// The vector level of OpenBLAS's x86 kernels, by core name in lower case: 0 generic (SSE,
    /// what it falls back to on a CPU it does not recognise), 1 AVX, 2 AVX2, 3 AVX-512. Cores not
    /// listed (other architectures, names this table does not know) are left as they are.
    static let coreLevels: [String: Int] = {
        var levels: [String: Int] = [:]
        for core in [
            "prescott", "katmai", "coppermine", "northwood", "banias", "core2", "penryn", "dunnington", "nehalem", "atom", "athlon",
            "opteron", "barcelona",
        ] { levels[core] = 0 }
        for core in ["sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"] { levels[core] = 1 }
        for core in ["haswell", "zen"] { levels[core] = 2 }
        for core in ["skylakex", "cooperlake", "sapphirerapids"] { levels[core] = 3 }
        return levels
    }()

    /// `coreLevels` of a core name, nil when unknown.
    static func level(of core: String) -> Int? { coreLevels[core.lowercased()] }

    public static var info: Info {
        let (name, features) = cpu()
        #if canImport(Accelerate)
            return Info(
                library: "Accelerate", core: "Accelerate", replacedCore: nil, cpu: name, cpuFeatures: features, genericFallback: false,
                kernelsBelowCPU: false)
        #else
            let core = String(cString: openblas_get_corename())
            let library = String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces)
            let below = tunedCore(for: core, features: features) != nil
            return Info(
                library: library, core: core, replacedCore: ProcessInfo.processInfo.environment[replacedVariable],
                cpu: name, cpuFeatures: features, genericFallback: below && level(of: core) == 0, kernelsBelowCPU: below)
        #endif
    }

    /// The OpenBLAS core to use instead of `core` on a CPU with `features` (SkylakeX for AVX-512,
    /// Haswell for AVX2), or nil when `core` already uses the CPU's widest vectors or is unknown.
    static func tunedCore(for core: String, features: [String]) -> String? {
        guard let level = level(of: core) else { return nil }
        if features.contains("avx512") && level < 3 { return "SkylakeX" }
        if features.contains("avx2") && level < 2 { return "Haswell" }
        return nil
    }

    /// The CPU's model name and whether it has AVX2 / AVX-512 (F, CD, BW, DQ, VL: what OpenBLAS's
    /// SkylakeX kernels need), from /proc/cpuinfo.
    static func cpu() -> (String, [String]) {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return ("unknown", []) }
        func field(_ key: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { $0.split(separator: ":", maxSplits: 1).last }
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let flags = Set((field("flags") ?? "").split(separator: " ").map(String.init))
        var features: [String] = []
        if flags.isSuperset(of: ["avx2", "fma"]) { features.append("avx2") }
        if flags.isSuperset(of: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]) { features.append("avx512") }
        if flags.contains("amx_tile") { features.append("amx") }
        var name = field("model name") ?? "unknown"
        if let family = field("cpu family"), let model = field("model") { name += " (family \(family), model \(model))" }
        return (TerminalSafe.escape(name), features)
    }

    /// When OpenBLAS chose kernels below what the CPU runs, re-executes this
    /// binary with `OPENBLAS_CORETYPE` naming them (once; the kernels OpenBLAS chose are kept in
    /// the environment for `info`). Call first thing in `main`, before any threads start.
    public static func ensureTunedKernels() {
        #if os(Linux)
            let environment = ProcessInfo.processInfo.environment
            guard environment[keepVariable] != "keep", environment[replacedVariable] == nil else { return }
            let chosen = String(cString: openblas_get_corename())
            guard let tuned = tunedCore(for: chosen, features: cpu().1) else { return }
            setenv("OPENBLAS_CORETYPE", tuned, 1)
            setenv(replacedVariable, chosen, 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            // execv returned: it failed; run on with the generic kernels, and say so once.
            FileHandle.standardError.write(
                Data(
                    ("duoscope: OpenBLAS uses its \(chosen) kernels on this CPU and switching "
                        + "to \(tuned) failed; GEMM runs below peak (set OPENBLAS_CORETYPE=\(tuned) to fix)\n").utf8))
        #endif
    }
}
