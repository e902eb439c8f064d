import DuoEngine
import Foundation

/// Backward counterparts of the forward kernels in `Ops`.
enum BackwardOps {
    /// Backward of `y = x * r * w` (r = inverse RMS of the row): adds dL/dx into `dx`, dL/dw into `dw`.
    static func rmsNormBackward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, inverseRMS: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, rows: Int, width: Int,
        dx: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>
    ) {
        let invWidth = 1 / Float(width)
        for row in 0..<rows {
            let dyr = dy + row * width
            let xr = x + row * width
            let dxr = dx + row * width
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

    /// Backward of a bias added to every row: adds the column sums of `dy` [rows, width] into `dBias`.
    static func addColumnSums(_ dy: UnsafePointer<Float>, rows: Int, width: Int, into dBias: UnsafeMutablePointer<Float>) {
        for row in 0..<rows { Ops.add(dy + row * width, into: dBias, count: width) }
    }

    /// Backward of act = silu(g) * u: writes dg into `dact`'s storage and du into `du`.
    static func swigluBackward(
        dact: UnsafeMutablePointer<Float>, gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>,
        du: UnsafeMutablePointer<Float>, count: Int
    ) {
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
