import ArgumentParser
import DuoEngine
import DuoReports

/// `duoscope route MODEL --text S --policy P`: run a text under a routing policy.
struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Run a text under a routing policy: per-token routes, losses, perplexity, compute.",
        discussion: """
            Policies of the catalogue at a budget of K big layers per token: big | small | oracle@K | oracle@K:fixed \
            (earlier tokens all-big) | router@K (the router nearest K/L, exactly K big) | fixed@K (best fixed pattern) \
            | random@K[xN] (best of N random routings). Rules applied token by token: skip | random (each layer big \
            or small, p 0.5) | random:K[,SEED] (exactly K big) | random:P[,SEED] (each layer big with probability P) \
            | random:skip=A,small=B,big=C[,seed=S] | pattern:BSK... (B big, S small, K skip per layer) | router:NAME \
            (a router's argmax; NAME in MODEL/routers or a file).
            """)

    static let formats: [OutputFormat] = [.table, .json, .csv, .md]

    @Argument(help: "Model directory.")
    var model: String

    @OptionGroup var input: TextOptions

    @Option(help: "Routing policy (see below).")
    var policy = "big"

    @Option(help: OutputFormat.help(formats))
    var format: OutputFormat = .table

    @Option(name: .customLong("top-k"), help: "Predictions listed per token in JSON.")
    var topK = 5

    /// The format, --top-k and the policy's grammar, before anything is loaded (the model checks the rest).
    func validate() throws {
        try format.check(Self.formats, command: "route")
        guard (0...100).contains(topK) else { throw ValidationError("--top-k must be in 0...100") }
        _ = try PolicyChoice.parse(policy)
    }

    func run() throws {
        let model = try Loader.model(model)
        let source = try input.source()
        let choice = try PolicyChoice.parse(policy)
        let routing = try choice.rule.map { try PolicySpec.parse($0, config: model.config, modelDirectory: model.directory) }
        let ids = try source.tokenize(for: model, truncate: input.truncate)
        let evaluation: SequenceEvaluation
        let name: String
        if let routing {
            (evaluation, name) = (try SequenceEvaluation.run(model: model, ids: ids, policy: routing, topK: topK), routing.name)
        } else {
            let key = choice.key!
            (evaluation, name) = (try PolicyEvaluator.forModel(model).sequence(key, ids: ids, topK: topK), key.description)
        }
        let report = RouteReport(model: model, policy: name, text: source.text, evaluation: evaluation)
        print(try report.render(format), terminator: "")
    }
}

extension RouteReport {
    /// The report in one of the formats `route` and `oracle` write (`RouteCommand.formats`).
    func render(_ format: OutputFormat) throws -> String {
        switch format {
        case .json: return try json()
        case .csv: return csv()
        case .md: return markdown()
        default: return table()
        }
    }
}
