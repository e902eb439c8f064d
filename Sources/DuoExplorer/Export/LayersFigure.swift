import DuoEngine
import Foundation

/// The Layers view as a table figure: for the current token, one row per layer with each
/// policy's route (a colored cell), the router's P(big) as a bar, the loss change if that one
/// layer's route were flipped under the primary policy (a diverging bar), and the logit-lens
/// prediction after the layer (✓ when it is the true next token). Results not computed yet are
/// hatched cells, and the figure says so.
enum LayersFigure {
    static func render(_ c: SnapshotContent) -> String {
        let view = ViewContext(state: c.state, analysis: c.analysis, theme: Theme(color: true))
        let t = c.state.token
        let doc = c.analysis.document
        let layers = c.analysis.layers
        let kinds = PolicyKind.allCases
        let rowHeight = 20.0
        let cell = 34.0
        let left = 56.0
        let top = 96.0
        let policyX = left
        let routerX = policyX + Double(kinds.count) * cell + 24
        let barWidth = 90.0
        let flipX = routerX + barWidth + 58
        let lensX = flipX + barWidth + 60

        var canvas = SVGCanvas()
        let primary = c.primaryRun
        var subtitle = "primary \(c.state.primaryKey)"
        if let loss = primary?.loss(t) { subtitle += ", loss of the true next token \(SVGFigure.format(loss, 3)) nats" }
        canvas.text(SVGFigure.title(c, "layer by layer, \(view.currentTokenHeading)"), 12, 22, size: 14, extra: "font-weight=\"bold\"")
        canvas.text(subtitle, 12, 40, size: 12)

        // Column headings.
        let headY = top - 10
        for (i, kind) in kinds.enumerated() {
            let x = policyX + Double(i) * cell + cell / 2
            let weight = kind == c.state.primary ? " font-weight=\"bold\"" : ""
            canvas.text(kind.name, x, headY, size: 11, extra: "text-anchor=\"start\" transform=\"rotate(-40 \(x) \(headY))\"\(weight)")
        }
        canvas.text("layer", left - 8, headY, size: 11, extra: "text-anchor=\"end\"")
        canvas.text("router P(big)", routerX, headY, size: 11)
        canvas.text("flip Δloss", flipX, headY, size: 11)
        canvas.text("logit lens (\(c.state.primaryKey))", lensX, headY, size: 11)

        let router = c.analysis.runs[c.state.key(.router)]
        let flips = c.analysis.flips[FlipKey(policy: c.state.primaryKey, token: t)]
        let baseline = primary?.loss(t)
        let deltas = (flips ?? []).map { f in baseline.map { f - $0 } }
        let flipRange = max(deltas.compactMap { $0.map(abs) }.max() ?? 0, 1e-9)
        var missing = 0
        var lensWidth = 0.0
        for l in 0..<layers {
            let y = top + Double(l) * rowHeight
            canvas.text("L\(l)", left - 8, y + 14, size: 11, extra: "text-anchor=\"end\"")
            for (i, kind) in kinds.enumerated() {
                let x = policyX + Double(i) * cell + 3
                if let route = c.analysis.runs[c.state.key(kind)]?.route(token: t, layer: l) {
                    canvas.rect(
                        x, y + 2, cell - 6, rowHeight - 4, fill: SVGFigure.color(route), extra: "stroke=\"#bbbbbb\" stroke-width=\"0.5\"")
                } else {
                    missing += 1
                    canvas.rect(
                        x, y + 2, cell - 6, rowHeight - 4, fill: SVGFigure.pending, extra: "stroke=\"#bbbbbb\" stroke-width=\"0.5\"")
                }
            }
            // Router P(big): a bar on a light track, the value after it.
            if let p = router?.routerProbabilities?[safe: t]?[safe: l], let routes = router?.routerRoutes,
                let big = routes.firstIndex(of: .big)
            {
                let pBig = Double(p[big])
                canvas.rect(routerX, y + 5, barWidth, rowHeight - 10, fill: RGB(235, 235, 235))
                canvas.rect(routerX, y + 5, barWidth * pBig, rowHeight - 10, fill: Theme.big)
                canvas.text(String(format: "%.2f", pBig), routerX + barWidth + 6, y + 14, size: 11)
            } else {
                canvas.text(router == nil ? "no router run" : "—", routerX, y + 14, size: 11, extra: "fill=\"#777777\"")
            }
            // Flip Δloss: diverging from the middle, red when flipping hurts, blue when it helps.
            let middle = flipX + barWidth / 2
            canvas.rect(middle - 0.25, y + 2, 0.5, rowHeight - 4, fill: RGB(153, 153, 153))
            if l < deltas.count, let delta = deltas[l] {
                let w = barWidth / 2 * abs(delta) / flipRange
                canvas.rect(delta >= 0 ? middle : middle - w, y + 5, w, rowHeight - 10, fill: delta >= 0 ? Theme.high : Theme.low)
                canvas.text(Format.signed(delta), flipX + barWidth + 6, y + 14, size: 11)
            } else {
                canvas.text(t + 1 < doc.count ? "…" : "—", flipX + barWidth + 6, y + 14, size: 11, extra: "fill=\"#777777\"")
            }
            if let lens = primary?.lens[safe: t]?[safe: l] {
                let hit = t + 1 < doc.count && lens.id == doc.ids[t + 1]
                let text = "\(Format.quoted(view.tokenText(id: lens.id))) \(Format.percent(lens.probability))\(hit ? "  ✓" : "")"
                canvas.text(text, lensX, y + 14, size: 11, extra: hit ? "font-weight=\"bold\"" : "")
                lensWidth = max(lensWidth, SVGFigure.estimatedWidth(text, size: 11))
            }
        }

        // Legend and notes.
        var y = top + Double(layers) * rowHeight + 16
        var x = 12.0
        for (label, fill) in [("big", SVGFigure.color(.big)), ("small", SVGFigure.color(.small)), ("skip", SVGFigure.color(.skip))]
            + [("not computed", SVGFigure.pending)]
        {
            canvas.rect(x, y, 12, 12, fill: fill, extra: "stroke=\"#bbbbbb\" stroke-width=\"0.5\"")
            canvas.text(label, x + 16, y + 10, size: 11)
            x += 16 + SVGFigure.estimatedWidth(label, size: 11) + 16
        }
        let notes = [
            "Columns: each policy's route at this layer, at k = \(c.state.k) big layers per token"
                + ", oracle context \(c.state.context.rawValue).",
            "Router P(big): the router's probability of the big module (\(router?.note ?? "router not run")).",
            "Flip Δloss: the change in this token's loss if only this layer's route were flipped (big↔small) under the primary policy.",
            "Logit lens: the most likely next token read out after each layer under the primary policy; ✓ the true next token.",
        ]
        for note in notes {
            y += 18
            canvas.text(note, 12, y + 10, size: 11, extra: "fill=\"#333333\"")
        }
        if missing > 0 {
            y += 18
            canvas.text(
                "partial: \(missing) of \(layers * kinds.count) route cells were still computing when this was exported", 12, y + 10,
                size: 11, extra: "fill=\"#b22222\"")
        }
        let width = max(lensX + lensWidth + 20, notes.map { SVGFigure.estimatedWidth($0, size: 11) + 24 }.max() ?? 0)
        return canvas.document(width: width, height: y + 24)
    }
}
