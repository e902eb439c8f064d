import DuoEngine
import DuoReports
import Foundation

/// A snapshot as JSON (schema `duoscope.snapshot/2`): the text, its tokens, every policy run
/// with its routes and losses, and per-token difficulty. Written by `JSONOutput`, as every JSON
/// duoscope writes: pretty, keys sorted and in snake_case, characters that steer a terminal
/// escaped; numbers that are not finite become null. Schema 1 had the key `meanFFNFraction`
/// (now `mean_ffn_fraction`).
public enum SnapshotJSON {
    public static let schema = "duoscope.snapshot/2"

    public static func render(_ c: SnapshotContent) -> String {
        // Every field is a string, an integer, a Bool or a finite-or-null number: encoding cannot fail.
        try! JSONOutput.string(Snapshot(c))
    }

    private struct Snapshot: Encodable {
        let schema = SnapshotJSON.schema
        let model: String
        let label: String
        let text: String
        let view: String
        let k: Int
        let layers: Int
        let context: String
        let metric: String
        let primary: String
        let partner: String
        let tokens: [Token]
        let policies: [Policy]
        let difficulty: [Double?]

        init(_ c: SnapshotContent) {
            let document = c.analysis.document
            model = c.analysis.modelName
            label = document.label
            text = document.text
            view = c.view.name
            k = c.state.k
            layers = c.analysis.layers
            context = c.state.context.rawValue
            metric = c.state.metric.rawValue
            primary = c.state.primaryKey.description
            partner = c.state.partnerKey.description
            tokens = document.ids.indices.map { Token(index: $0, id: document.ids[$0], text: document.rawTokenTexts[$0]) }
            policies = c.policies().compactMap { c.analysis.run($0) }.map(Policy.init)
            difficulty = c.difficulty().map { $0.flatMap(finite) }
        }
    }

    private struct Token: Encodable {
        let index: Int
        let id: Int
        /// The decoded text, control characters included (JSON escaping keeps them inert).
        let text: String
    }

    private struct Policy: Encodable {
        let name: String
        let kind: String
        let k: Int
        let complete: Bool
        @ExplicitNull var perplexity: Double?
        @ExplicitNull var meanFFNFraction: Double?
        let note: String
        /// One pattern per known token, layer 0 first ("BSSK...").
        let routes: [String]
        let losses: [Double?]

        init(_ run: PolicyRun) {
            name = run.key.description
            kind = run.key.kind.rawValue
            k = run.key.k
            complete = run.isComplete
            perplexity = finite(run.perplexity)
            meanFFNFraction = finite(run.meanFFNFraction)
            note = run.note
            routes = (0..<min(run.completed, run.routes.tokens)).map(run.routes.pattern)
            losses = run.losses.map(finite)
        }
    }

    /// Encodes nil as an explicit `null` instead of leaving the key out.
    @propertyWrapper
    private struct ExplicitNull: Encodable {
        var wrappedValue: Double?

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            if let value = wrappedValue { try container.encode(value) } else { try container.encodeNil() }
        }
    }

    private static func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }
}
