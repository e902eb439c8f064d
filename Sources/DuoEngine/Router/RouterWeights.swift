import Foundation

/// A learned router: per layer a linear map from the FFN input (post-attention RMSNorm of the
/// token) to one logit per route. Stored as `routers/NAME.safetensors` (docs/model-format.md).
public final class RouterWeights: @unchecked Sendable {  // raw-buffer tensors, written only while training
    /// The routes the logit rows stand for, e.g. [.small, .big] or [.skip, .small, .big].
    public let routes: [Route]
    /// Per layer: weight [R, hidden] and bias [R].
    public let weights: [Tensor]
    public let biases: [Tensor]
    /// What the router was trained for, as recorded in its file.
    public var budget: Double
    public var temperature: Double
    public var modelName: String

    public init(routes: [Route], layers: Int, hidden: Int, budget: Double = 0.5, temperature: Double = 1, modelName: String = "") {
        self.routes = routes
        weights = (0..<layers).map { _ in Tensor(shape: [routes.count, hidden]) }
        biases = (0..<layers).map { _ in Tensor(shape: [routes.count]) }
        self.budget = budget
        self.temperature = temperature
        self.modelName = modelName
    }

    public var layers: Int { weights.count }
    public var hidden: Int { weights.first?.columns ?? 0 }

    /// Tensors with their file names, layer by layer.
    public var named: [(String, Tensor)] {
        (0..<layers).flatMap { l in
            [("model.layers.\(l).router.weight", weights[l]), ("model.layers.\(l).router.bias", biases[l])]
        }
    }

    /// Logits [rows, R] for `rows` FFN inputs at `layer`.
    public func logits(layer: Int, input: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let r = routes.count
        for i in 0..<rows { (out + i * r).update(from: biases[layer].data, count: r) }
        BLAS.linear(input, rows: rows, weight: weights[layer], into: out, accumulate: true)
    }

    /// Logits of `rows` FFN inputs at `layer`, one row of R per input.
    public func logits(layer: Int, input: UnsafePointer<Float>, rows: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * routes.count)
        out.withUnsafeMutableBufferPointer { logits(layer: layer, input: input, rows: rows, into: $0.baseAddress!) }
        return out
    }

    /// The route with the highest logit in row `row` of `logits` (ties: the earlier route).
    public func argmax(_ logits: [Float], row: Int) -> Route {
        let r = routes.count
        var best = 0
        for j in 1..<r where logits[row * r + j] > logits[row * r + best] { best = j }
        return routes[best]
    }

    // MARK: file

    public func write(to url: URL) throws {
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensorsWriter.write(
            named,
            metadata: [
                "duoscope_router": "1", "routes": routes.map(\.name).joined(separator: ","),
                "budget": String(budget), "temperature": String(temperature), "model": modelName,
                "hidden_size": String(hidden), "num_hidden_layers": String(layers),
            ], to: url)
    }

    /// Reads a router and checks it fits `config` (layers, hidden size, routes the model has).
    public static func read(from url: URL, config: ModelConfig) throws -> RouterWeights {
        let file = try SafeTensorsFile(url: url)
        guard file.metadata["duoscope_router"] == "1", let names = file.metadata["routes"] else {
            throw DuoError(file: url, "not a duoscope router file")
        }
        let routes = names.split(separator: ",").map { name in Route.allCases.first { $0.name == name } }
        guard !routes.isEmpty, !routes.contains(nil), Set(routes.map { $0! }).count == routes.count else {
            throw DuoError(file: url, "router routes \"\(names)\" are not distinct names from skip, small, big")
        }
        let router = RouterWeights(
            routes: routes.map { $0! }, layers: config.numLayers, hidden: config.hiddenSize,
            budget: Double(file.metadata["budget"] ?? "") ?? .nan,
            temperature: Double(file.metadata["temperature"] ?? "") ?? 1,
            modelName: file.metadata["model"] ?? "")
        if !config.isDuo, router.routes.contains(.small) {
            throw DuoError(file: url, "router chooses the small FFN but the model has none")
        }
        for (name, tensor) in router.named {
            guard let entry = file.entries[name] else {
                throw DuoError(
                    file: url, "missing tensor \(name): router made for another model? (this model has \(config.numLayers) layers)")
            }
            guard entry.shape == tensor.shape else {
                throw DuoError(
                    file: url,
                    "tensor \(name) has shape \(entry.shape) but this model needs \(tensor.shape): router made for another model?")
            }
            let loaded = try file.tensor(name)
            tensor.data.update(from: loaded.data, count: tensor.count)
        }
        if file.entries.keys.contains("model.layers.\(config.numLayers).router.weight") {
            throw DuoError(file: url, "router has more layers than the model's \(config.numLayers): made for another model?")
        }
        return router
    }
}
