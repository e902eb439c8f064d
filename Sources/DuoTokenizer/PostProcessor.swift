/// What `encode(_:addSpecialTokens: true)` adds around a single sequence (tokenizer.json
/// `post_processor`): TemplateProcessing, BertProcessing/RobertaProcessing, or nothing
/// (ByteLevel and null only touch offsets).
struct PostProcessor {
    enum Piece {
        case ids([Int])
        case sequence
    }

    /// The single-sequence template; nil means the ids are left alone.
    var single: [Piece]?

    var description: String {
        guard let single else { return "none" }
        return single.map { piece -> String in
            switch piece {
            case .ids(let ids): return ids.map(String.init).joined(separator: ",")
            case .sequence: return "$A"
            }
        }.joined(separator: " ")
    }

    func apply(_ ids: [Int]) -> [Int] {
        guard let single else { return ids }
        var out: [Int] = []
        out.reserveCapacity(ids.count + 4)
        for piece in single {
            switch piece {
            case .ids(let special): out.append(contentsOf: special)
            case .sequence: out.append(contentsOf: ids)
            }
        }
        return out
    }

    /// A sequence of processors: templates apply one after the other.
    static func chain(_ processors: [PostProcessor]) -> PostProcessor {
        var result = PostProcessor(single: nil)
        for p in processors {
            guard let template = p.single else { continue }
            guard let current = result.single else {
                result.single = template
                continue
            }
            var combined: [Piece] = []
            for piece in template {
                if case .sequence = piece { combined.append(contentsOf: current) } else { combined.append(piece) }
            }
            result.single = combined
        }
        return result
    }
}
