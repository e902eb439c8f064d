import DuoEngine

/// Throughput of full training steps (forward, backward, clipping, AdamW) with stage-1 random routing.
public enum TrainingBenchmark {
    public static func measure(config: ModelConfig, batch: Int, length: Int, minimumSeconds: Double) -> EngineBenchmark.Figure {
        let weights = RandomInit.weights(config, seed: 3)
        let gradients = weights.zerosLike(config)
        let list = gradients.named(config).map(\.1)
        let optimizer = AdamW(parameters: weights.named(config), settings: AdamWSettings())
        let graph = TrainingGraph(config: config, batch: batch, length: length)
        let tokens = (0..<(batch * length * 4)).map { Int32(($0 * 7919) % config.vocabSize) }
        let sampler = BatchSampler(tokens: tokens, batch: batch, length: length, seed: 1)
        let probabilities = RouteProbabilities(skip: 0, small: 0.5, big: 0.5)
        var step = 0
        func trainStep() {
            let (inputs, targets) = sampler.batch(step: step)
            let routes = sampler.routes(step: step, layers: config.numLayers, probabilities: probabilities)
            ParameterList(list).zero()
            _ = graph.run(weights: weights, inputs: inputs, targets: targets, routes: routes, gradients: gradients)
            optimizer.update(gradients: list, lr: 1e-3, gradientScale: GradientClipping.scale(list, maxNorm: 1).scale)
            step += 1
        }
        trainStep()
        let start = EngineBenchmark.now()
        var steps = 0
        repeat {
            trainStep()
            steps += 1
        } while EngineBenchmark.now() - start < minimumSeconds
        let seconds = (EngineBenchmark.now() - start) / Double(steps)
        // Forward FLOPs at the expected 50/50 routing; backward is twice the forward.
        let cost = ComputeCost(config)
        let perToken =
            config.numLayers
            * (cost.attentionProjections + cost.attentionPerContextToken * (length + 1) / 2
                + (cost.bigFFN + cost.smallFFN) / 2) + cost.lmHead
        let flops = 3.0 * Double(perToken * batch * length)
        return EngineBenchmark.Figure(
            name: "train step \(batch)x\(length), random 50/50", tokensPerSecond: Double(batch * length) / seconds,
            gflops: flops / seconds / 1e9, seconds: seconds, repetitions: steps)
    }
}
