import Tensors
import XCTest

/// Central finite differences of a scalar loss against an analytic gradient.
enum GradientCheck {
    /// Asserts max |a − b| / max |b| < relative (b's scale floored at 1e-6).
    static func assertClose(_ a: [Float], _ b: [Float], relative: Float, _ message: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        let scale = max(b.map(abs).max() ?? 0, 1e-6)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst / scale, relative, "\(message): max difference \(worst) at scale \(scale)",
                          file: file, line: line)
    }

    /// Filled with uniform values in [-scale, scale).
    static func randomBuffer(_ count: Int, _ generator: inout SeededGenerator, scale: Float = 1) -> FloatBuffer {
        let buffer = FloatBuffer(count: count)
        for i in 0..<count { buffer[i] = Float(generator.nextUnitFloat() * 2 - 1) * scale }
        return buffer
    }

    /// Σ out · weights in Double: a loss whose gradient w.r.t. `out` is `weights`.
    static func dot(_ out: FloatBuffer, _ weights: FloatBuffer) -> Double {
        var sum = 0.0
        for i in 0..<out.count { sum += Double(out[i]) * Double(weights[i]) }
        return sum
    }

    /// Asserts ‖numeric − analytic‖ / ‖analytic‖ < tolerance over `indices` (all when nil), and that the analytic
    /// gradient there is not zero (a check that would pass for any kernel returning zeros proves nothing).
    static func assertMatches(_ name: String, parameter: FloatBuffer, analytic: FloatBuffer, indices: [Int]? = nil,
                              step: Float = 5e-3, tolerance: Double = 1e-2, loss: () -> Double,
                              file: StaticString = #filePath, line: UInt = #line) {
        let checked = indices ?? Array(0..<parameter.count)
        var differenceSquared = 0.0, analyticSquared = 0.0
        for i in checked {
            let saved = parameter[i]
            parameter[i] = saved + step
            let plus = loss()
            parameter[i] = saved - step
            let minus = loss()
            parameter[i] = saved
            let numeric = (plus - minus) / (2 * Double(step))
            let exact = Double(analytic[i])
            differenceSquared += (numeric - exact) * (numeric - exact)
            analyticSquared += exact * exact
        }
        XCTAssertGreaterThan(analyticSquared.squareRoot(), 1e-6, "\(name): analytic gradient is zero",
                             file: file, line: line)
        let relative = differenceSquared.squareRoot() / max(analyticSquared.squareRoot(), 1e-12)
        XCTAssertLessThan(relative, tolerance, "\(name): relative error \(relative)", file: file, line: line)
    }
}
