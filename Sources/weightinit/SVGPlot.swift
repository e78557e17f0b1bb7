import Foundation
import WeightInit

/// Self-contained SVG charts (no external fonts, scripts or styles).
enum SVGPlot {
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    struct Series { var label: String; var x: [Double]; var y: [Double] }

    /// One panel at (`ox`, `oy`) of size `w × h`: axes, ticks, labels, lines.
    static func panel(title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool,
                      ox: Double, oy: Double, w: Double, h: Double) -> String {
        let left = ox + 62, right = ox + w - 12, top = oy + 30, bottom = oy + h - 44
        let xs = series.flatMap(\.x)
        let xMin = xs.min() ?? 0, xMax = max((xs.max() ?? 1), xMin + 1)
        var yMin: Double, yMax: Double
        let finite = series.flatMap(\.y).filter { $0.isFinite }
        if logY {
            let positive = finite.filter { $0 > 0 }
            let lo = positive.min().map { Foundation.floor(Foundation.log10($0)) } ?? -3
            let hi = positive.max().map { Foundation.ceil(Foundation.log10($0)) } ?? 1
            yMin = max(lo, -40); yMax = min(max(hi, yMin + 1), 40)
        } else {
            yMin = 0; yMax = min(max(finite.max() ?? 1, 1e-9), 10) * 1.05
        }
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * (right - left) }
        func py(_ y: Double) -> Double {
            var v: Double
            if logY { v = y > 0 ? Foundation.log10(y) : yMin; if !y.isFinite { v = yMax } } else { v = y.isFinite ? y : yMax }
            v = min(max(v, yMin), yMax)
            return bottom - (v - yMin) / (yMax - yMin) * (bottom - top)
        }
        var s = "<g font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
        s += "<text x=\"\(fmtc(ox + w / 2))\" y=\"\(fmtc(oy + 18))\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>\n"
        s += "<rect x=\"\(fmtc(left))\" y=\"\(fmtc(top))\" width=\"\(fmtc(right - left))\" height=\"\(fmtc(bottom - top))\" fill=\"white\" stroke=\"#444\"/>\n"
        // y ticks
        let yTicks: [Double]
        if logY {
            let span = Int(yMax - yMin), stepDec = max(1, span / 8)
            yTicks = stride(from: Int(yMin), through: Int(yMax), by: stepDec).map(Double.init)
        } else { yTicks = (0...5).map { yMin + Double($0) * (yMax - yMin) / 5 } }
        for t in yTicks {
            let y = logY ? py(Foundation.pow(10, t)) : py(t)
            s += "<line x1=\"\(fmtc(left))\" y1=\"\(fmtc(y))\" x2=\"\(fmtc(right))\" y2=\"\(fmtc(y))\" stroke=\"#e5e5e5\"/>\n"
            let label = logY ? "1e\(Int(t))" : String(format: "%.2f", t)
            s += "<text x=\"\(fmtc(left - 6))\" y=\"\(fmtc(y + 4))\" text-anchor=\"end\">\(label)</text>\n"
        }
        // x ticks at integers (layers and steps are integers): a 1-2-5 step giving at most ~7 ticks.
        let span = max(xMax - xMin, 1)
        var tick = 1.0
        for m in [1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0] where span / m <= 7 { tick = m; break }
        if span / tick > 7 { tick = Foundation.ceil(span / 7) }
        var xv = Foundation.ceil(xMin / tick) * tick
        while xv <= xMax + 1e-9 {
            let x = px(xv)
            s += "<line x1=\"\(fmtc(x))\" y1=\"\(fmtc(bottom))\" x2=\"\(fmtc(x))\" y2=\"\(fmtc(bottom + 4))\" stroke=\"#444\"/>\n"
            s += "<text x=\"\(fmtc(x))\" y=\"\(fmtc(bottom + 17))\" text-anchor=\"middle\">\(Int(xv))</text>\n"
            xv += tick
        }
        s += "<text x=\"\(fmtc((left + right) / 2))\" y=\"\(fmtc(oy + h - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(\(fmtc(ox + 14)),\(fmtc((top + bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for (i, se) in series.enumerated() where !se.x.isEmpty {
            let pts = zip(se.x, se.y).map { "\(fmtc(px($0))),\(fmtc(py($1)))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colors[i % colors.count])\" stroke-width=\"2\" points=\"\(pts)\"/>\n"
        }
        s += "</g>\n"
        return s
    }

    static func fmtc(_ x: Double) -> String { String(format: "%.1f", x) }

    /// The `compare` figure: activation std per layer, gradient norm per layer, loss per step.
    static func compare(report: InitializationComparison.Report) -> String {
        let w = 420.0, h = 380.0, legendH = 26.0 + 18.0 * Double((report.runs.count + 2) / 3)
        let total = 3 * w, height = h + legendH + 40
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(total))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(total)) \(Int(height))\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"#fafafa\"/>\n"
        let title = (report.architecture == .residual ? "Residual MLP 784 → \(report.width), \(report.depth) blocks → 10" : "MLP 784 → \(report.width)×\(report.depth) → 10") + ", \(report.activation), \(report.steps) steps \(report.optimizer.rawValue) lr \(report.learningRate), seed \(report.seed)"
        s += "<text x=\"\(Int(total / 2))\" y=\"22\" text-anchor=\"middle\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"16\">\(escape(title))</text>\n"
        let layerX: (Int) -> [Double] = { (1...$0).map(Double.init) }
        s += panel(title: "Activation std at initialization", xLabel: "layer", yLabel: "std of f(Z) (log scale)",
                   series: report.runs.map { Series(label: $0.scheme, x: layerX($0.activationStd.count), y: $0.activationStd) },
                   logY: true, ox: 0, oy: 34, w: w, h: h)
        s += panel(title: "Weight-gradient norm at initialization", xLabel: "layer", yLabel: "‖∂L/∂W‖ (log scale)",
                   series: report.runs.map { Series(label: $0.scheme, x: layerX($0.gradientNorm.count), y: $0.gradientNorm) },
                   logY: true, ox: w, oy: 34, w: w, h: h)
        s += panel(title: "Training loss", xLabel: "step", yLabel: "cross-entropy",
                   series: report.runs.map { Series(label: $0.scheme, x: $0.lossSteps.map(Double.init), y: $0.loss) },
                   logY: false, ox: 2 * w, oy: 34, w: w, h: h)
        for (i, r) in report.runs.enumerated() {
            let x = 80 + Double(i % 3) * w, y = h + 56 + Double(i / 3) * 18
            let note = r.divergedAtStep.map { " (diverged at step \($0))" } ?? r.testAccuracy.map { String(format: " (test accuracy %.3f)", $0) } ?? ""
            s += "<line x1=\"\(fmtc(x))\" y1=\"\(fmtc(y - 4))\" x2=\"\(fmtc(x + 24))\" y2=\"\(fmtc(y - 4))\" stroke=\"\(colors[i % colors.count])\" stroke-width=\"3\"/>\n"
            s += "<text x=\"\(fmtc(x + 30))\" y=\"\(fmtc(y))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"13\">\(escape(r.scheme + note))</text>\n"
        }
        s += "<text x=\"\(Int(total - 12))\" y=\"\(Int(height - 10))\" text-anchor=\"end\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\" fill=\"#666\">Zeros (and values below the axis) are drawn on the bottom edge; infinities and NaN on the top edge. Made by weightinit compare.</text>\n"
        s += "</svg>\n"
        return s
    }
}
