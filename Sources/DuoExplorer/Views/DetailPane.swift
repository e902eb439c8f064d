import DuoEngine
import Foundation

/// The current token in detail: its text and next token, its loss under every policy, its
/// difficulty, its routes under the primary and partner policies, the compute used and the
/// top-5 predictions.
enum DetailPane {
    static func draw(into grid: inout CellGrid, area: Rect, context c: ViewContext) {
        let theme = c.theme
        let t = c.state.token
        let doc = c.document
        let heading = "─ \(c.currentTokenHeading) · layer \(c.state.layer) "
        grid.fill(x: area.x, y: area.y, width: area.width, height: 1, character: "─", style: theme.rule)
        grid.put(heading, x: area.x, y: area.y, style: theme.emphasis)

        var x = grid.put("loss@\(c.state.k) ", x: area.x, y: area.y + 1, style: theme.label)
        for kind in [PolicyKind.allSmall, .allBig] + PolicyKind.budgetKinds {
            let value = c.analysis.runs[c.state.key(kind)]?.loss(t)
            let name = kind.name
            x = grid.put(name + " ", x: x, y: area.y + 1, style: kind == c.state.primary ? theme.emphasis : theme.label)
            // The last token has no next token: its loss is not defined ("—"), not pending ("…").
            x = grid.put((t + 1 < doc.count ? Format.number(value) : Format.undefined) + "  ", x: x, y: area.y + 1)
        }
        x = grid.put("difficulty ", x: x, y: area.y + 1, style: theme.label)
        grid.put(t + 1 < doc.count ? Format.number(c.potential(t)) : Format.undefined, x: x, y: area.y + 1, style: theme.emphasis)

        // Routes of this token under the primary, the partner, then every other policy that fits.
        x = area.x
        var keys = [c.state.primaryKey, c.state.partnerKey]
        for kind in PolicyKind.allCases where !keys.contains(c.state.key(kind)) { keys.append(c.state.key(kind)) }
        var computeNote = ""
        if let run = c.primary, t < run.completed {
            let bigs = run.routes.row(t).filter { $0 == .big }.count
            computeNote = "FFN \(Format.percent(run.ffnFractions[t])) (\(bigs)/\(c.layers) big)"
        }
        let end = area.x + area.width - computeNote.count - 2
        for key in keys {
            let name = "\(key) "
            guard x + name.count + c.layers <= end else { break }
            x = grid.put(name, x: x, y: area.y + 2, style: theme.label)
            for l in 0..<c.layers {
                let (ch, style) = theme.routeCell(c.analysis.runs[key]?.route(token: t, layer: l))
                grid.put(String(ch), x: x, y: area.y + 2, style: style)
                x += 1
            }
            x += 2
        }
        grid.put(computeNote, x: max(x, end), y: area.y + 2, style: theme.label)

        x = grid.put("top-5 \(c.state.primaryKey): ", x: area.x, y: area.y + 3, style: theme.label)
        if let top = c.primary?.top[safe: t], !top.isEmpty {
            for p in top {
                let text = c.tokenText(id: p.id)
                let hit = t + 1 < doc.count && p.id == doc.ids[t + 1]
                x = grid.put(
                    "\(Format.quoted(text)) \(Format.percent(p.probability))  ", x: x, y: area.y + 3, style: hit ? theme.emphasis : .plain)
            }
        } else {
            grid.put("…", x: x, y: area.y + 3, style: theme.label)
        }
        if let note = c.primary?.note, !note.isEmpty {
            grid.put(note, x: area.x, y: area.y + 4, style: theme.label)
        } else if let failure = c.analysis.failures[c.state.primaryKey.description] {
            grid.put("error: " + failure, x: area.x, y: area.y + 4, style: theme.warning)
        }
    }
}
