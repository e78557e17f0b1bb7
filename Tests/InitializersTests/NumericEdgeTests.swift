// Issue 13 regressions (numeric edges): fans of empty tensors whose other dimensions are huge,
// `groups` checked before the empty-tensor shortcut, and values beyond the F16/BF16 range.
// Oracles: hand-worked products against Int.max (9 223 372 036 854 775 807), the IEEE binary16
// and bfloat16 limits (65504; (2 − 2⁻⁷)·2¹²⁷), and a naive scan of the stored bits.
import Foundation
import Testing
import MatrixModule
@testable import Initializers

@Suite("Numeric edges: huge empty shapes, groups, half-precision overflow (issue 13)")
struct NumericEdgeTests {
    /// Shapes with 0 elements whose fans overflow Int (worked by hand):
    /// [0, Int.max, 2]: fan_in = Int.max·2; [4, 0, 2^62]: fan_out = 4·2^62 = 2^64;
    /// [0, 3037000500, 3037000500]: fan_in = 3037000500² = 9 223 372 037 000 250 000 > Int.max.
    static let hugeEmpty: [[Int]] = [[0, Int.max, 2], [4, 0, 1 << 62], [0, 3_037_000_500, 3_037_000_500], [3_037_000_500, 3_037_000_500, 0]]

    @Test("Fans of a huge empty shape: a typed overflow error naming the shape, never a trap", arguments: hugeEmpty)
    func fansOverflow(shape: [Int]) {
        do {
            let f = try Fans(shape: shape)
            // [3037000500, 3037000500, 0]: receptive field 0, so both fans are 0 (no overflow).
            #expect(shape.last == 0 && f.fanIn == 0 && f.fanOut == 0, "unexpected fans \(f) for \(shape)")
        } catch {
            guard case let .size(.overflow(what, _, _)) = error else { Issue.record("wrong error \(error)"); return }
            #expect(what.contains("\(shape)"), "the error names the shape: \(error)")
        }
    }

    @Test("filling or validating a huge empty shape is a no-op, as in PyTorch (every scheme)", arguments: hugeEmpty)
    func emptyFillIsNoOp(shape: [Int]) throws {
        for scheme in [Initializer.heNormal(), .xavierUniform(), .lecunNormal(), .orthogonal(), .normal(std: 1)] {
            var empty: [Float] = []
            try scheme.fill(&empty, shape: shape, key: RandomKey(seed: 1))
            try scheme.validate(shape: shape, as: Float.self)
            let e = try scheme.expectedStatistics(shape: shape)
            #expect(e.mean == 0 && e.std == 0 && e.bound == nil)
        }
        #expect(try CheckedSize.elementCount(shape, what: "t") == 0)
    }

    @Test("a recipe plan and a model fill of a huge empty parameter succeed with no fans")
    func recipeEmpty() throws {
        let spec = ModelSpec(parameters: [ParameterSpec(name: "w", shape: [0, 3_037_000_500, 3_037_000_500], role: .weight, layout: .outInSpatial)])
        let plan = try InitRecipe(name: "t", rules: [InitRule(patterns: ["*"], .heNormal())]).plan(spec, seed: 0)
        #expect(plan[0].fans == nil)
        #expect(try spec.elementCount() == 0)
        let stats = try ModelFill.fill(plan, into: [UnsafeMutableRawBufferPointer(start: nil, count: 0)], threads: 2)
        #expect(stats[0].count == 0)
    }

    @Test("groups 0, −1 and Int.max are rejected for empty shapes as for non-empty ones", arguments: [0, -1, Int.max])
    func groupsBeforeEmptyShortcut(groups: Int) {
        for shape in [[6, 0, 3, 3], [6, 2, 3, 3]] {
            var buffer = [Float](repeating: 0, count: shape.reduce(1, *))
            #expect(throws: InitializationError.self, "shape \(shape) groups \(groups)") {
                try Initializer.xavierUniform().fill(&buffer, shape: shape, groups: groups, key: RandomKey(seed: 0))
            }
            #expect(throws: InitializationError.self) { try Initializer.xavierUniform().validate(shape: shape, as: Float.self, groups: groups) }
            #expect(throws: InitializationError.self) { _ = try Initializer.xavierUniform().expectedStatistics(shape: shape, groups: groups) }
        }
        // A valid groups count on the empty shape is still a no-op.
        var empty: [Float] = []
        #expect(throws: Never.self) { try Initializer.xavierUniform().fill(&empty, shape: [6, 0, 3, 3], groups: 3, key: RandomKey(seed: 0)) }
    }

    // MARK: F16 / BF16

    static func plan(_ initializer: Initializer, dtype: ParameterDType, shape: [Int] = [64, 64]) throws -> [PlannedParameter] {
        let spec = ModelSpec(parameters: [ParameterSpec(name: "w", shape: shape, dtype: dtype, role: .weight, layout: .outInSpatial)])
        return try InitRecipe(name: "t", rules: [InitRule(patterns: ["*"], initializer)]).plan(spec, seed: 0)
    }

    /// (initializer, dtype, the type's largest finite value): each would have stored inf.
    static let overflowing: [(Initializer, ParameterDType, Double)] = [
        (.constant(65520), .f16, 65504),           // the tie above 65504 rounds to inf (even)
        (.constant(-1e5), .f16, 65504),
        (.constant(3.4e38), .bf16, Double(Float(bitPattern: 0x7F7F_0000))),
        (.normal(std: 1e5), .f16, 65504),          // 319 of 4096 were inf before the fix
        (.uniform(low: -70000, high: 70000), .f16, 65504),
        (.normal(mean: 3.395e38, std: 1), .bf16, Double(Float(bitPattern: 0x7F7F_0000))),
        (.orthogonal(gain: 1e6), .f16, 65504),
    ]

    @Test("values beyond the F16/BF16 range are rejected before anything is written, naming the parameter, the dtype and its largest value",
          arguments: 0..<overflowing.count)
    func halfOverflowRejected(index: Int) throws {
        let (initializer, dtype, limit) = Self.overflowing[index]
        let plan = try Self.plan(initializer, dtype: dtype)
        var bytes = [UInt8](repeating: 0xAB, count: 64 * 64 * 2)
        do {
            _ = try bytes.withUnsafeMutableBytes { try ModelFill.fill(plan, into: [$0], threads: 2) }
            Issue.record("\(initializer) in \(dtype) was accepted")
        } catch let RecipeError.initializer(parameter, .notRepresentable(_, _, type, l)) {
            #expect(parameter == "w"); #expect(type == dtype.rawValue); #expect(l == limit)
            let text = RecipeError.initializer(parameter: parameter, .notRepresentable(name: "x", value: 1, type: type, limit: l)).description
            #expect(text.contains("'w'") && text.contains(dtype.rawValue))
        }
        #expect(bytes.allSatisfy { $0 == 0xAB }, "nothing written")
    }

    @Test("the largest representable constants are stored exactly (65504 in F16; 65519 rounds to 65504)")
    func halfLimitsAccepted() throws {
        for (v, stored) in [(65504.0, UInt16(0x7BFF)), (65519.0, 0x7BFF), (-65504.0, 0xFBFF)] {
            let plan = try Self.plan(.constant(v), dtype: .f16, shape: [2, 2])
            var bytes = [UInt8](repeating: 0, count: 8)
            let stats = try bytes.withUnsafeMutableBytes { try ModelFill.fill(plan, into: [$0], threads: 1) }
            let bits = bytes.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
            #expect(bits == [UInt16](repeating: stored, count: 4), "\(v)")
            let value = Double(Float(Float16(bitPattern: stored)))
            #expect(stats[0].nonFinite == 0 && stats[0].min == value && stats[0].max == value, "statistics of what was stored")
        }
        let bf = try Self.plan(.constant(Double(Float(bitPattern: 0x7F7F_0000))), dtype: .bf16, shape: [2, 2])
        var bytes = [UInt8](repeating: 0, count: 8)
        _ = try bytes.withUnsafeMutableBytes { try ModelFill.fill(bf, into: [$0], threads: 1) }
        #expect(bytes.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) } == [0x7F7F, 0x7F7F, 0x7F7F, 0x7F7F])
    }

    @Test("a non-finite value after rounding fails the fill (the last line of defence)")
    func nonFiniteAfterRounding() throws {
        let p = try Self.plan(.normal(std: 1), dtype: .f16, shape: [4, 4])[0]
        var s = ChunkStatistics()
        s.nonFinite = 3
        #expect(throws: RecipeError.nonFiniteValues(parameter: "w", dtype: "F16", count: 3)) { try ModelFill.requireFinite(p, s) }
        // fillRows (the distributed path) checks the dtype range too.
        let bad = try Self.plan(.constant(65520), dtype: .f16, shape: [4, 4])[0]
        var bytes = [UInt8](repeating: 0, count: 4 * 4 * 2)
        #expect(throws: RecipeError.self) { _ = try bytes.withUnsafeMutableBytes { try ModelFill.fillRows(bad, rows: 0..<4, into: $0) } }
    }
}
