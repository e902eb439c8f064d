import DuoEngine
import Foundation

/// Step through the layers of the current token: each policy's route, the router's
/// probabilities, the loss if this one layer's route were flipped (under the primary policy),
/// and the logit lens — the prediction read out after the layer.
enum LayersView {
    static let kinds = PolicyKind.allCases

    static func draw(into grid: inout CellGrid, area: Rect, context c: ViewContext) {
        let theme = c.theme
        let t = c.state.token
        let doc = c.document
        var header = "\(c.currentTokenHeading)   primary \(c.state.primaryKey)"
        if let loss = c.primary?.loss(t) { header += " loss \(Format.number(loss))" }
        grid.put(header, x: area.x, y: area.y, style: theme.emphasis)

        let router = c.run(.router)
        let flips = c.analysis.flips[FlipKey(policy: c.state.primaryKey, token: t)]
        let baseline = c.primary?.loss(t)
        // Columns: layer, one per policy, router P(big), flip Δloss, logit lens.
        var x = area.x
        let labelX = x
        x += 6
        let policyX = x
        x += kinds.count * 6 + 1
        let routerX = x
        x += 13
        let flipX = x
        x += 8
        let lensX = x
        let y0 = area.y + 2
        grid.put("layer", x: labelX, y: y0, style: theme.label)
        for (i, kind) in kinds.enumerated() {
            grid.put(" " + kind.shortName, x: policyX + i * 6, y: y0, style: kind == c.state.primary ? theme.emphasis : theme.label)
        }
        grid.put("P(big)", x: routerX, y: y0, style: theme.label)
        grid.put("flip Δ", x: flipX, y: y0, style: theme.label)
        grid.put("logit lens (\(c.state.primaryKey))", x: lensX, y: y0, style: theme.label)

        let visible = max(area.height - 4, 1)
        let first = c.state.layer / visible * visible
        let flipDeltas = flips.map { f in f.map { v in baseline.map { v - $0 } } } ?? []
        let flipScale = ViewContext.scale(flipDeltas.compactMap { $0 }, .diverging)
        for l in first..<min(first + visible, c.layers) {
            let y = y0 + 1 + l - first
            let selected = l == c.state.layer
            grid.put("L\(l)", x: labelX, y: y, style: selected ? theme.cursor : theme.label, target: .layer(l))
            for (i, kind) in kinds.enumerated() {
                let (ch, style) = theme.routeCell(c.run(kind)?.route(token: t, layer: l))
                grid.fill(x: policyX + i * 6 + 1, y: y, width: 3, height: 1, character: ch, style: style, target: .layer(l))
            }
            if let p = router?.routerProbabilities?[safe: t]?[safe: l], let routes = router?.routerRoutes,
                let bigIndex = routes.firstIndex(of: .big)
            {
                let pBig = Double(p[bigIndex])
                let filled = Int((pBig * 6).rounded())
                grid.fill(
                    x: routerX, y: y, width: 6, height: 1, character: theme.color ? " " : "·",
                    style: theme.color ? CellStyle(background: Theme.small) : CellStyle())
                grid.fill(
                    x: routerX, y: y, width: filled, height: 1, character: theme.color ? " " : "█",
                    style: theme.color ? CellStyle(background: Theme.big) : CellStyle())
                grid.put(String(format: "%.2f", pBig), x: routerX + 7, y: y)
            } else {
                grid.put(router == nil ? "…" : "—", x: routerX, y: y, style: theme.label)
            }
            if l < flipDeltas.count, let delta = flipDeltas[l] {
                grid.put(Format.signed(delta), x: flipX, y: y, style: theme.heatStyle(flipScale(delta)))
            } else {
                grid.put(t + 1 < doc.count ? "…" : "—", x: flipX, y: y, style: theme.label)
            }
            if let lens = c.primary?.lens[safe: t]?[safe: l] {
                let text = c.tokenText(id: lens.id)
                let hit = t + 1 < doc.count && lens.id == doc.ids[t + 1]
                grid.put(
                    "\(Format.quoted(text)) \(Format.percent(lens.probability))\(hit ? " ✓" : "")", x: lensX, y: y,
                    style: hit ? theme.emphasis : .plain)
            }
        }
        let noteY = y0 + 1 + min(visible, c.layers) + 1
        if noteY < area.y + area.height {
            grid.put(
                kinds.map(\.shortName).joined(separator: "/") + ": " + kinds.map(\.rawValue).joined(separator: ", ")
                    + " @k; P(big): router; "
                    + "flip Δ: loss change if this one layer's route were flipped (big↔small); ✓: the lens predicts the true next token",
                x: area.x, y: noteY, style: theme.label)
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
