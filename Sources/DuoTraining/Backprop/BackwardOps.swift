import DuoEngine
import Foundation

/// Forward kernels that keep what the backward pass needs, and their backward counterparts.
enum BackwardOps {
    /// RMSNorm forward that also stores each row's inverse RMS in `inverseRMS`.
    static func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, eps: Float,
                        into y: UnsafeMutablePointer<Float>, inverseRMS: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * width
            let yr = y + r * width
            var sum: Float = 0
            for i in 0..<width { sum += xr[i] * xr[i] }
            let scale = 1 / (sum / Float(width) + eps).squareRoot()
            inverseRMS[r] = scale
            for i in 0..<width { yr[i] = xr[i] * scale * weight[i] }
        }
    }

    /// Backward of `y = x * r * w` (r = inverse RMS of the row): adds dL/dx into `dx`, dL/dw into `dw`.
    static func rmsNormBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, inverseRMS: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, rows: Int, width: Int,
                                dx: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>) {
        let invWidth = 1 / Float(width)
        for row in 0..<rows {
            let dyr = dy + row * width, xr = x + row * width, dxr = dx + row * width
            let r = inverseRMS[row]
            var dot: Float = 0
            for i in 0..<width {
                let g = dyr[i] * weight[i]
                dot += g * xr[i]
                dw[i] += dyr[i] * xr[i] * r
            }
            let k = dot * r * r * r * invWidth
            for i in 0..<width { dxr[i] += dyr[i] * weight[i] * r - xr[i] * k }
        }
    }

    /// act = silu(g) * u.
    static func swiglu(gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>, into act: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let x = g[i]
            act[i] = x * FastMath.sigmoid(x) * u[i]
        }
    }

    /// Backward of act = silu(g) * u: writes dg into `dact`'s storage and du into `du`.
    static func swigluBackward(dact: UnsafeMutablePointer<Float>, gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>,
                               du: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let x = g[i]
            let sigma = FastMath.sigmoid(x)
            let silu = x * sigma
            let d = dact[i]
            du[i] = d * silu
            dact[i] = d * u[i] * sigma * (1 + x * (1 - sigma))
        }
    }
}
