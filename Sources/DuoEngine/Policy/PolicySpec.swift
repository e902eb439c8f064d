import Foundation

/// Parses the policy strings of the CLI against a model's config:
/// `big`, `small`, `skip`, `pattern:BSK...` (one letter per layer: B big, S small, K skip),
/// `random` (each layer big or small with p 0.5, seed 0), `random:K[,SEED]` (exactly K big),
/// `random:P[,SEED]` (each layer big with probability P, else small), and
/// `random:skip=A,small=B,big=C[,seed=S]`, and `router:FILE` (a trained router, argmax; a bare
/// NAME is looked up as MODEL/routers/NAME.safetensors). On a plain Llama model "small" is
/// unavailable and the cheap route of random policies is skip.
public enum PolicySpec {
    public static func parse(_ text: String, config: ModelConfig, modelDirectory: URL? = nil) throws -> RoutingPolicy {
        func fail(_ problem: String) -> DuoError { DuoError("policy \"\(TerminalSafe.escape(text))\": \(problem)") }
        let usage = "expected big, small, skip, random[:k|:p|:skip=,small=,big=][,seed], pattern:BSK..., router:FILE"
        let low: Route = config.isDuo ? .small : .skip
        let spec = text.trimmingCharacters(in: .whitespaces)
        switch spec.lowercased() {
        case "big", "all-big": return UniformPolicy(.big)
        case "skip", "all-skip": return UniformPolicy(.skip)
        case "small", "all-small":
            guard config.isDuo else { throw fail("this model has no small FFN (plain Llama config)") }
            return UniformPolicy(.small)
        default: break
        }
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let first = parts.first, !first.isEmpty else { throw fail("empty policy (\(usage))") }
        let kind = first.lowercased()
        let argument = parts.count > 1 ? parts[1] : ""
        switch kind {
        case "pattern":
            let routes = argument.map { Route(letter: $0) }
            guard !routes.contains(nil) else { throw fail("pattern letters must be B (big), S (small) or K (skip)") }
            guard routes.count == config.numLayers else {
                throw fail("pattern has \(routes.count) letters but the model has \(config.numLayers) layers")
            }
            if !config.isDuo, routes.contains(.small) { throw fail("this model has no small FFN (plain Llama config)") }
            return PatternPolicy(routes.map { $0! })
        case "random":
            return try parseRandom(argument, config: config, low: low, fail: fail)
        case "router":
            guard !argument.isEmpty else { throw fail("give a router file or name") }
            var url = URL(fileURLWithPath: argument)
            if !FileManager.default.fileExists(atPath: url.path), let modelDirectory {
                let folder = ModelDirectory(modelDirectory)
                let named = folder.router(named: argument)
                if FileManager.default.fileExists(atPath: named.path) {
                    url = named
                } else if !argument.contains("/") {
                    let have = folder.routerFiles.map { $0.deletingPathExtension().lastPathComponent }
                    throw fail(
                        "no router file \(TerminalSafe.escape(argument)) and no router of that name in the model's routers/ folder "
                            + (have.isEmpty ? "(it has none)" : "(it has: \(have.map(TerminalSafe.escape).joined(separator: ", ")))"))
                }
            }
            let router = try RouterWeights.read(from: url, config: config)
            return RouterPolicy(router: router, name: "router:" + url.deletingPathExtension().lastPathComponent)
        default:
            throw fail("unknown policy (\(usage))")
        }
    }

    private static func parseRandom(
        _ argument: String, config: ModelConfig, low: Route,
        fail: (String) -> DuoError
    ) throws -> RoutingPolicy {
        var fields =
            argument.isEmpty
            ? []
            : argument.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
        var seed: UInt64 = 0
        if let last = fields.last, last.lowercased().hasPrefix("seed=") || (fields.count >= 2 && !last.contains("=")) {
            let value = last.lowercased().hasPrefix("seed=") ? String(last.dropFirst(5)) : last
            guard let parsed = UInt64(value) else { throw fail("seed \(value) is not a non-negative integer") }
            seed = parsed
            fields.removeLast()
        }
        let layers = config.numLayers
        if fields.isEmpty {
            let p = config.isDuo ? RouteProbabilities(skip: 0, small: 0.5, big: 0.5) : RouteProbabilities(skip: 0.5, small: 0, big: 0.5)
            return RandomPolicy(mode: .probabilities(p), seed: seed, layers: layers, low: low)
        }
        if fields.count == 1, !fields[0].contains("=") {
            let field = fields[0]
            if let k = Int(field) {
                guard (0...layers).contains(k) else { throw fail("k = \(k) is outside 0...\(layers)") }
                return RandomPolicy(mode: .exactly(k), seed: seed, layers: layers, low: low)
            }
            guard let p = Double(field), p.isFinite else { throw fail("\(field) is neither a layer count k nor a probability p") }
            guard (0...1).contains(p) else { throw fail("probability \(p) is outside 0...1") }
            let probabilities =
                config.isDuo
                ? RouteProbabilities(skip: 0, small: 1 - p, big: p)
                : RouteProbabilities(skip: 1 - p, small: 0, big: p)
            return RandomPolicy(mode: .probabilities(probabilities), seed: seed, layers: layers, low: low)
        }
        var p = RouteProbabilities(skip: 0, small: 0, big: 0)
        for field in fields {
            let pair = field.split(separator: "=", maxSplits: 1).map { String($0).lowercased() }
            guard pair.count == 2, let value = Double(pair[1]), value.isFinite, value >= 0 else {
                throw fail("expected route=probability, got \(field)")
            }
            switch pair[0] {
            case "skip": p.skip = value
            case "small": p.small = value
            case "big": p.big = value
            default: throw fail("unknown route \(pair[0]) (expected skip, small, big)")
            }
        }
        guard abs(p.skip + p.small + p.big - 1) < 1e-6 else { throw fail("probabilities must sum to 1") }
        if !config.isDuo, p.small > 0 { throw fail("this model has no small FFN (plain Llama config)") }
        return RandomPolicy(mode: .probabilities(p), seed: seed, layers: layers, low: low)
    }
}
