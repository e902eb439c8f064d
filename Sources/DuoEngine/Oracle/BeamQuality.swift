/// How close beam search comes to the exhaustive oracle: for each token (context fixed under a
/// policy, so every search sees the same context), the exhaustive optimum against the best
/// pattern each beam width finds.
public enum BeamQuality {
    public struct Row: Sendable, Codable {
        /// nil: the exhaustive search itself.
        public var beamWidth: Int?
        public var tokens: Int
        /// Share of tokens where the beam found a pattern as good as the optimum.
        public var foundOptimum: Double
        /// Mean and largest excess loss (nats) over the optimum.
        public var meanGap: Double
        public var maxGap: Double
        public var secondsPerToken: Double
    }

    public static func measure(
        model: DuoModel, ids: [Int], constraint: OracleConstraint, widths: [Int],
        context: RoutingPolicy = UniformPolicy(.big), progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> [Row] {
        try constraint.validate(config: model.config)
        guard ids.count >= 2, ids.count <= model.config.maxPositions else { throw DuoError("need 2...context tokens") }
        let session = InferenceSession(model: model, capacity: ids.count)
        _ = try session.forwardHidden(ids, policy: context)
        let tree = OracleTree(model: model)
        let positions = ids.count - 1
        var optimum: [Double] = []
        var exhaustiveSeconds = 0.0
        var found = Array(repeating: 0, count: widths.count)
        var gaps = Array(repeating: [Double](), count: widths.count)
        var seconds = Array(repeating: 0.0, count: widths.count)
        for t in 0..<positions {
            var start = EngineBenchmark.now()
            let all = tree.search(token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t, constraint: constraint)
            exhaustiveSeconds += EngineBenchmark.now() - start
            let best = all.map(\.loss).min()!
            optimum.append(best)
            for (i, width) in widths.enumerated() {
                start = EngineBenchmark.now()
                let beam = tree.search(
                    token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t,
                    constraint: constraint, beamWidth: width)
                seconds[i] += EngineBenchmark.now() - start
                // Differences below 1e-5 nats are float noise between differently sized batches.
                var gap = max(0, beam.map(\.loss).min()! - best)
                if gap <= 1e-5 {
                    gap = 0
                    found[i] += 1
                }
                gaps[i].append(gap)
            }
            progress(t + 1, positions)
        }
        var rows = [
            Row(
                beamWidth: nil, tokens: positions, foundOptimum: 1, meanGap: 0, maxGap: 0,
                secondsPerToken: exhaustiveSeconds / Double(positions))
        ]
        for (i, width) in widths.enumerated() {
            rows.append(
                Row(
                    beamWidth: width, tokens: positions, foundOptimum: Double(found[i]) / Double(positions),
                    meanGap: gaps[i].reduce(0, +) / Double(positions), maxGap: gaps[i].max() ?? 0,
                    secondsPerToken: seconds[i] / Double(positions)))
        }
        return rows
    }
}
