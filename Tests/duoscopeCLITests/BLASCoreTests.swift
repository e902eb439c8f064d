import DuoEngine
import Foundation
import XCTest

@testable import DuoEngine

/// OpenBLAS's generic-kernel fallback (Debian's 0.3.21 on CPUs newer than it) is detected and
/// replaced before work starts; `info` names the kernels.
final class BLASCoreTests: XCTestCase {
    func testGenericCoresAreReplacedOnlyWhereTheCPUHasBetter() {
        XCTAssertEqual(BLASCore.tunedCore(for: "Prescott", features: ["avx2", "avx512"]), "SkylakeX")
        XCTAssertEqual(BLASCore.tunedCore(for: "Prescott", features: ["avx2"]), "Haswell")
        XCTAssertNil(BLASCore.tunedCore(for: "Prescott", features: []))
        XCTAssertNil(BLASCore.tunedCore(for: "Cooperlake", features: ["avx2", "avx512"]))
        XCTAssertNil(BLASCore.tunedCore(for: "Zen", features: ["avx2"]))
    }

    /// `OPENBLAS_CORETYPE=Prescott` reproduces the fallback on any x86 machine: the binary switches
    /// to tuned kernels (on a CPU with AVX2) and `info` says what it did; with
    /// DUOSCOPE_BLAS_CORE=keep it keeps them and flags the fallback.
    func testForcedPrescottFallbackIsHandled() throws {
        let features = BLASCore.cpu().1
        try XCTSkipUnless(features.contains("avx2"), "no AVX2 on this CPU: Prescott is not a fallback here")
        let model = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
        let fixed = try CLIRunner.run(["info", model], environment: ["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        let line = try XCTUnwrap(fixed.stdout.split(separator: "\n").first { $0.hasPrefix("BLAS") })
        XCTAssertTrue(line.contains("had chosen its generic Prescott kernels; duoscope switched"), String(line))
        XCTAssertTrue(line.contains("kernels " + (features.contains("avx512") ? "SkylakeX" : "Haswell")), String(line))
        let kept = try CLIRunner.run(["info", model], environment: ["OPENBLAS_CORETYPE": "Prescott", "DUOSCOPE_BLAS_CORE": "keep"])
        XCTAssertTrue(kept.stdout.contains("kernels Prescott — GENERIC FALLBACK"), kept.stdout)
    }
}
