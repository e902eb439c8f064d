// libFuzzer harnesses for duoscope's parsers of untrusted input. Built together with every
// DuoSupport, DuoTokenizer and DuoEngine source into one module (so internal APIs are reachable)
// by `make fuzz-build`:
//   swiftc -sanitize=fuzzer,address -parse-as-library -module-name DuoEngine \
//     Sources/{DuoSupport,DuoTokenizer,DuoEngine}/**/*.swift Fuzz/Harness.swift
// One binary, one harness per run, chosen by DUOFUZZ_TARGET (see `FuzzTarget`). A harness
// passes when the engine either accepts the input or throws a DuoError; a trap, an ASan report,
// a hang (libFuzzer -timeout) or an out-of-memory (-rss_limit_mb) is a finding, as is a broken
// invariant checked below with `require`.
// Runs from the repository root (fixtures are found under Tests/Fixtures); input that a parser
// reads from a path is written to a per-process scratch directory (DUOFUZZ_SCRATCH, else
// /dev/shm or $TMPDIR), removed at exit.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum FuzzTarget: String, CaseIterable {
    case safetensors, config, index, tokenizer, router, policy, text
}

/// The scratch directory, for the exit handler (which must not touch `FuzzWorld.shared`: exit can
/// happen while it is being initialized).
nonisolated(unsafe) var scratchToRemove: String?

/// State shared by the runs of one process: the chosen target, the scratch directory and the
/// fixtures the harnesses need, loaded once.
final class FuzzWorld: @unchecked Sendable {
    static let shared = FuzzWorld()

    let target: FuzzTarget
    let root: URL
    let scratch: URL
    /// A model directory in the scratch directory: shard symlinks and `routers/k2.safetensors`.
    let model: URL
    let input: URL
    /// Tests/Fixtures/tiny-model (config, weights and tokenizer), for policies, routers and texts.
    let tinyModel: DuoModel

    private init() {
        let name = ProcessInfo.processInfo.environment["DUOFUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("DUOFUZZ_TARGET must be one of: \(names) (got \"\(name)\")\n".utf8))
            exit(2)
        }
        self.target = target
        root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let fixtures = root.appendingPathComponent("Tests/Fixtures")
        let environment = ProcessInfo.processInfo.environment
        let shm = URL(fileURLWithPath: "/dev/shm")
        let base = environment["DUOFUZZ_SCRATCH"].map { URL(fileURLWithPath: $0) }
            ?? (access(shm.path, W_OK) == 0 ? shm : URL(fileURLWithPath: NSTemporaryDirectory()))
        scratch = base.appendingPathComponent("duofuzz-\(target.rawValue)-\(getpid())")
        model = scratch.appendingPathComponent("model")
        input = scratch.appendingPathComponent("input")
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: model.appendingPathComponent("routers"), withIntermediateDirectories: true)
            tinyModel = try DuoModel.load(directory: fixtures.appendingPathComponent("tiny-model"))
            // Shards the fuzzed index may name: the tiny f16 model's two and llama-v5's eight.
            for directory in ["tiny-model-f16-sharded", "hf-checkpoints/llama-v5"] {
                let folder = fixtures.appendingPathComponent(directory)
                for shard in try fm.contentsOfDirectory(atPath: folder.path) where shard.hasPrefix("model-") {
                    try fm.createSymbolicLink(at: model.appendingPathComponent(shard),
                                              withDestinationURL: folder.appendingPathComponent(shard))
                }
            }
            let config = tinyModel.config
            try RouterWeights(routes: [.small, .big], layers: config.numLayers, hidden: config.hiddenSize, modelName: "tiny")
                .write(to: model.appendingPathComponent("routers/k2.safetensors"))
        } catch {
            FileHandle.standardError.write(Data("duofuzz: cannot set up (run from the repository root): \(error)\n".utf8))
            exit(2)
        }
        scratchToRemove = scratch.path
        atexit { if let path = scratchToRemove { try? FileManager.default.removeItem(atPath: path) } }
        if let seeds = environment["DUOFUZZ_WRITE_ROUTER_SEEDS"] {
            writeRouterSeeds(to: URL(fileURLWithPath: seeds))
            try? FileManager.default.removeItem(at: scratch)
            _exit(0)  // not exit: libFuzzer reports an exit during a run as a crash
        }
    }

    /// Writes the router harness's seeds: routers that fit the tiny model, with small non-zero weights.
    private func writeRouterSeeds(to folder: URL) {
        let config = tinyModel.config
        let sets: [(String, [Route])] = [("k2", [.small, .big]), ("k3", [.skip, .small, .big]), ("skip-big", [.skip, .big])]
        for (name, routes) in sets {
            let router = RouterWeights(routes: routes, layers: config.numLayers, hidden: config.hiddenSize, modelName: "tiny-model")
            for (i, (_, tensor)) in router.named.enumerated() {
                for j in 0..<tensor.count { tensor.data[j] = Float((i * 31 + j * 7) % 13 - 6) / 8 }
            }
            do { try router.write(to: folder.appendingPathComponent("tiny-\(name).safetensors")) } catch { fatalError("\(error)") }
        }
    }

    /// Writes `data` to the scratch input file (named `name` inside the model directory when given).
    func write(_ data: Data, as name: String? = nil) -> URL {
        let url = name.map { model.appendingPathComponent($0) } ?? input
        do { try data.write(to: url) } catch { fatalError("duofuzz: cannot write \(url.path): \(error)") }
        return url
    }
}

/// A broken invariant of an accepted input: crash, so libFuzzer keeps the input as a finding.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("duofuzz invariant: \(message())") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func duofuzzTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let world = FuzzWorld.shared
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    switch world.target {
    case .safetensors: Harnesses.safetensors(data, world)
    case .config: Harnesses.config(data, world)
    case .index: Harnesses.index(data, world)
    case .tokenizer: Harnesses.tokenizer(data, world)
    case .router: Harnesses.router(data, world)
    case .policy: Harnesses.policy(data, world)
    case .text: Harnesses.text(data, world)
    }
    return 0
}

enum Harnesses {
    /// safetensors: `SafeTensorsFile(url:)` on the input, then every tensor of an accepted file is
    /// read (a validated header promises each one converts, with shape x dtype size = byte span).
    static func safetensors(_ data: Data, _ world: FuzzWorld) {
        guard let file = try? SafeTensorsFile(url: world.write(data)) else { return }
        for (name, entry) in file.entries {
            let tensor: Tensor
            do { tensor = try file.tensor(name) } catch { fatalError("duofuzz invariant: accepted file, tensor \(name): \(error)") }
            require(tensor.shape == entry.shape, "tensor \(name) read with shape \(tensor.shape), header says \(entry.shape)")
        }
    }

    /// config.json: `ConfigFile.read`, then the sizes `duoscope info` derives from an accepted
    /// config (parameter counts and FLOPs, which must not overflow).
    static func config(_ data: Data, _ world: FuzzWorld) {
        guard let config = try? ConfigFile.read(world.write(data)) else { return }
        let counts = ParameterCounts(config)
        let cost = ComputeCost(config)
        require(counts.total >= 0 && cost.bigFFN >= 0, "negative sizes for an accepted config")
        _ = cost.total(pattern: [Route](repeating: .big, count: min(config.numLayers, 4096)), position: config.maxPositions - 1)
    }

    /// model.safetensors.index.json: `Checkpoint(index:)` in a directory holding the shards of
    /// tiny-model-f16-sharded and hf-checkpoints/llama-v5 (symlinks), then every tensor is read.
    static func index(_ data: Data, _ world: FuzzWorld) {
        guard let checkpoint = try? Checkpoint(index: world.write(data, as: "model.safetensors.index.json")) else { return }
        for name in checkpoint.tensorNames {
            require(checkpoint.entry(name) != nil && checkpoint.file(of: name) != nil, "listed tensor \(name) has no entry")
            do { _ = try checkpoint.tensor(name) } catch { fatalError("duofuzz invariant: accepted index, tensor \(name): \(error)") }
        }
        _ = checkpoint.dominantDType
    }

    /// Texts the tokenizer harness encodes: ASCII, whitespace runs, non-Latin scripts, emoji,
    /// control characters, added-token look-alikes, and a long run that backtracking regexes choke on.
    static let tokenizerTexts = [
        "Hello, world! It's 2024-05-01: 3.14159 apples.",
        "  leading and   multiple spaces\n\ttabs\r\nand lines  ",
        "naïve café — 日本語のテキスト, Ελληνικά, עברית, 🙂👍🏽 e\u{301}",
        "<|endoftext|><s></s><unk>[CLS] ▁x <0x0A>",
        "\u{0}\u{1}\u{7F}\u{FEFF}\u{200B}\u{10FFFF}",
        String(repeating: "a", count: 36) + "b",
        String(repeating: "ab ", count: 300),
    ]

    /// tokenizer.json: `Tokenizer(jsonData:source:)`, then encode (with and without special tokens)
    /// and decode of fixed texts and odd ids (encode may refuse a text with an error); on a lossless byte-level tokenizer (see
    /// `isLosslessByteLevel`) decode(encode(s)) must give s back.
    static func tokenizer(_ data: Data, _ world: FuzzWorld) {
        guard let tokenizer = try? Tokenizer(jsonData: data, source: "fuzz") else { return }
        let lossless = isLosslessByteLevel(tokenizer)
        for text in tokenizerTexts {
            guard let ids = try? tokenizer.encode(text) else { continue }  // refused, e.g. a regex over its time limit
            _ = try? tokenizer.encode(text, addSpecialTokens: true)
            let decoded = tokenizer.decode(ids)
            if lossless { require(decoded == text, "round trip of \(text.debugDescription) gave \(decoded.debugDescription)") }
        }
        let odd = [0, 1, 2, 255, 256, tokenizer.vocabSize - 1, tokenizer.vocabSize, -1, Int.max, Int.min]
        _ = tokenizer.decode(odd)
        for id in odd { _ = tokenizer.tokenText(id) }
        _ = try? tokenizer.preTokenize(tokenizerTexts[0])
    }

    /// Whether decode(encode(s)) == s must hold: no normalizer and no added tokens, pre-tokenizer
    /// steps that keep every character (ByteLevel without a prefix space, Splits that do not remove),
    /// a decoder that is exactly ByteLevel, a BPE model without subword prefix or word suffix, one
    /// token per id, and all 256 byte-level characters in the vocabulary.
    static func isLosslessByteLevel(_ tokenizer: Tokenizer) -> Bool {
        guard tokenizer.normalizer == nil, tokenizer.added.isEmpty, tokenizer.preTokenizer.usesByteLevel else { return false }
        for step in tokenizer.preTokenizer.steps {
            switch step {
            case .byteLevel(let addPrefixSpace, _): if addPrefixSpace { return false }
            case .split(_, let behavior, _): if behavior == .removed { return false }
            case .metaspace: return false
            }
        }
        guard let steps = tokenizer.decoder.steps, steps.count == 1, case .byteLevel = steps[0] else { return false }
        let model = tokenizer.model
        guard model.continuingSubwordPrefix == nil, model.endOfWordSuffix == nil,
              model.tokenById.count == model.vocab.count else { return false }
        return ByteLevel.byteToScalar.allSatisfy { model.vocab[Array(String($0).utf8)] != nil }
    }

    /// Router files: `RouterWeights.read(from:config:)` against the tiny model's config (4 layers,
    /// hidden 64, Duo); an accepted router must fit it and compute logits for a zero input.
    static func router(_ data: Data, _ world: FuzzWorld) {
        let config = world.tinyModel.config
        guard let router = try? RouterWeights.read(from: world.write(data), config: config) else { return }
        require(router.layers == config.numLayers && router.hidden == config.hiddenSize, "accepted router does not fit")
        let zeros = [Float](repeating: 0, count: config.hiddenSize)
        for layer in 0..<router.layers {
            let logits = router.logits(layer: layer, input: zeros, rows: 1)
            _ = router.argmax(logits, row: 0)
        }
    }

    /// Policy strings: `PolicySpec.parse` with the tiny model's config and a model directory whose
    /// routers/ holds k2; an accepted policy routes a few positions at every layer. A router
    /// argument containing "/" is skipped (it would open arbitrary paths, e.g. /dev/stdin);
    /// relative names resolve inside the scratch directory.
    /// The one grammar (`PolicyChoice`) comes first: a catalogue policy must print back as
    /// itself and validate against the model or be refused; a rule goes on to `PolicySpec`.
    static func policy(_ data: Data, _ world: FuzzWorld) {
        let text = String(decoding: data, as: UTF8.self)
        if text.lowercased().contains("router"), text.contains("/") { return }
        let config = world.tinyModel.config
        if case .catalogue(let key)? = try? PolicyChoice.parse(text) {
            require((try? PolicyKey.parse(key.description)) == key, "policy \(key) does not parse back to itself")
            _ = try? key.validate(layers: config.numLayers)
            return
        }
        _ = FileManager.default.changeCurrentDirectoryPath(world.scratch.path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(world.root.path) }
        guard let policy = try? PolicySpec.parse(text, config: config, modelDirectory: world.model) else { return }
        let input = [Float](repeating: 0.5, count: 4 * config.hiddenSize)
        for layer in 0..<config.numLayers {
            let routes = policy.routes(layer: layer, positions: 0..<4, ffnInput: input, width: config.hiddenSize)
            require(routes.count == 4, "policy \(policy.name) gave \(routes.count) routes for 4 positions")
            require(config.isDuo || !routes.contains(.small), "policy \(policy.name) routes to a missing small FFN")
        }
    }

    /// Text input: `TextSource(data:label:)` on the bytes, then tokenized for the tiny model
    /// (refused when too long, and truncated to its context).
    static func text(_ data: Data, _ world: FuzzWorld) {
        guard let source = try? TextSource(data: data, label: "fuzz") else { return }
        let model = world.tinyModel
        if let ids = try? source.tokenize(for: model) {
            require(ids.count >= 2 && ids.count <= model.config.maxPositions, "\(ids.count) tokens accepted")
        }
        if let ids = try? source.tokenize(for: model, truncate: true) {
            require(ids.count <= model.config.maxPositions, "\(ids.count) tokens after truncation")
        }
    }
}
