import DuoEngine
import Foundation
import XCTest

@testable import DuoEngine

/// OpenBLAS's fallbacks to kernels below the CPU (Debian's 0.3.21 on CPUs newer than it: generic
/// kernels, or AVX2 ones on an AVX-512 CPU) are detected and replaced before work starts; `info`
/// names the kernels.
final class BLASCoreTests: XCTestCase {
    func testCoresBelowTheCPUAreReplacedOnlyWhereTheCPUHasBetter() {
        XCTAssertEqual(BLASCore.tunedCore(for: "Prescott", features: ["avx2", "avx512"]), "SkylakeX")
        XCTAssertEqual(BLASCore.tunedCore(for: "Prescott", features: ["avx2"]), "Haswell")
        XCTAssertNil(BLASCore.tunedCore(for: "Prescott", features: []))
        XCTAssertNil(BLASCore.tunedCore(for: "Cooperlake", features: ["avx2", "avx512"]))
        XCTAssertNil(BLASCore.tunedCore(for: "Zen", features: ["avx2"]))
        // AVX2 kernels on an AVX-512 CPU (0.3.21's choice on an AMD EPYC of family 26), AVX on AVX2.
        XCTAssertEqual(BLASCore.tunedCore(for: "Haswell", features: ["avx2", "avx512"]), "SkylakeX")
        XCTAssertEqual(BLASCore.tunedCore(for: "Zen", features: ["avx2", "avx512"]), "SkylakeX")
        XCTAssertEqual(BLASCore.tunedCore(for: "Sandybridge", features: ["avx2"]), "Haswell")
        // Cores of other architectures, or names the table does not know, are left alone.
        XCTAssertNil(BLASCore.tunedCore(for: "ARMV8", features: ["avx2", "avx512"]))
        XCTAssertNil(BLASCore.tunedCore(for: "SomeFutureCore", features: ["avx2", "avx512"]))
    }

    /// `OPENBLAS_CORETYPE=Prescott` reproduces the fallback on any x86 machine: the binary switches
    /// to tuned kernels (on a CPU with AVX2) and `info` says what it did; with
    /// DUOSCOPE_BLAS_CORE=keep it keeps them and flags the fallback.
    func testForcedPrescottFallbackIsHandled() throws {
        let features = BLASCore.cpu().1
        try XCTSkipUnless(features.contains("avx2"), "no AVX2 on this CPU: Prescott is not a fallback here")
        let (line, kept) = try info(forcing: "Prescott")
        XCTAssertTrue(line.contains("had chosen its generic Prescott kernels; duoscope switched"), line)
        XCTAssertTrue(line.contains("kernels " + (features.contains("avx512") ? "SkylakeX" : "Haswell")), line)
        XCTAssertTrue(kept.contains("kernels Prescott — GENERIC FALLBACK"), kept)
    }

    /// `OPENBLAS_CORETYPE=Haswell` on a CPU with AVX-512 reproduces what OpenBLAS 0.3.21 chooses on
    /// an AMD EPYC of family 26: AVX2 kernels, replaced by SkylakeX; kept and flagged on request.
    func testAVX2KernelsOnAnAVX512CPUAreReplaced() throws {
        try XCTSkipUnless(BLASCore.cpu().1.contains("avx512"), "no AVX-512 on this CPU: Haswell's kernels are its best")
        let (line, kept) = try info(forcing: "Haswell")
        XCTAssertTrue(line.contains("kernels SkylakeX (OpenBLAS had chosen its Haswell kernels; duoscope switched)"), line)
        XCTAssertTrue(kept.contains("kernels Haswell — KERNELS BELOW THE CPU"), kept)
        XCTAssertFalse(kept.contains("GENERIC FALLBACK"), kept)
    }

    /// `duoscope info` on the tiny model with `OPENBLAS_CORETYPE=core`: its BLAS line (the run must
    /// succeed), and its whole output when DUOSCOPE_BLAS_CORE=keep keeps the kernels.
    private func info(forcing core: String) throws -> (line: String, kept: String) {
        let model = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
        let fixed = try CLIRunner.run(["info", model], environment: ["OPENBLAS_CORETYPE": core])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        let line = try XCTUnwrap(fixed.stdout.split(separator: "\n").first { $0.hasPrefix("BLAS") })
        let kept = try CLIRunner.run(["info", model], environment: ["OPENBLAS_CORETYPE": core, "DUOSCOPE_BLAS_CORE": "keep"])
        return (String(line), kept.stdout)
    }
}
