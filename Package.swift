// swift-tools-version:6.0
import PackageDescription


let package = Package(
    name: "duoscope",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "DuoTokenizer", targets: ["DuoTokenizer"]),
        .library(name: "DuoEngine", targets: ["DuoEngine"]),
        .library(name: "DuoReports", targets: ["DuoReports"]),
        .library(name: "DuoTraining", targets: ["DuoTraining"]),
        .library(name: "DuoExplorer", targets: ["DuoExplorer"]),
        .executable(name: "duoscope", targets: ["duoscope"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            path: "Sources/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Element-wise SIMD kernels in C, header-only, compiled per instruction set and chosen at run time.
        .systemLibrary(
            name: "CKernels",
            path: "Sources/CKernels"
        ),
        // The base every module builds on: errors, safe input files, terminal escaping, the JSON parser.
        .target(
            name: "DuoSupport"
        ),
        // Hugging Face tokenizer.json (BPE), usable without the engine.
        .target(
            name: "DuoTokenizer",
            dependencies: ["DuoSupport"]
        ),
        // DuoEngine re-exports DuoSupport and DuoTokenizer (Sources/DuoEngine/Exports.swift).
        .target(
            name: "DuoEngine",
            dependencies: [
                "DuoSupport",
                "DuoTokenizer",
                "CKernels",
                .target(name: "CBLAS", condition: .when(platforms: [.linux])),
            ],
            linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS]))]
        ),
        .target(
            name: "DuoReports",
            dependencies: ["DuoEngine"]
        ),
        .target(
            name: "DuoTraining",
            dependencies: ["DuoEngine", "CKernels"]
        ),
        .target(
            name: "CNcursesw",
            path: "Sources/CNcursesw",
            cSettings: [.define("_XOPEN_SOURCE_EXTENDED"), .define("NCURSES_WIDECHAR", to: "1"), .define("_DEFAULT_SOURCE")],
            linkerSettings: [.linkedLibrary("ncursesw"), .linkedLibrary("tinfo", .when(platforms: [.linux]))]
        ),
        .target(
            name: "DuoExplorer",
            dependencies: ["DuoEngine", "DuoReports", "CNcursesw"]
        ),
        .executableTarget(
            name: "duoscope",
            dependencies: [
                "DuoEngine",
                "DuoReports",
                "DuoTraining",
                "DuoExplorer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "DuoTokenizerTests",
            // DuoEngine only for two test helpers (SplitMix64, UncheckedSendable); the tokenizer does not need it.
            dependencies: ["DuoTokenizer", "DuoSupport", "DuoEngine", "TestSupport"]
        ),
        .testTarget(
            name: "DuoEngineTests",
            dependencies: ["DuoEngine", "DuoReports", "TestSupport"]
        ),
        .testTarget(
            name: "DuoTrainingTests",
            dependencies: ["DuoTraining", "DuoEngine", "TestSupport"]
        ),
        .testTarget(
            name: "DuoExplorerTests",
            dependencies: ["DuoExplorer", "DuoEngine", "TestSupport"]
        ),
        .testTarget(
            name: "duoscopeCLITests",
            dependencies: ["duoscope", "DuoEngine", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
