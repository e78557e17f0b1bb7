// Whole-model fills into memory: bytes independent of threads and of the other parameters,
// chunked fills equal single-tensor fills, rows equal slices, BF16/F16 rounding against
// hand-worked bit patterns, statistics against a naive two-pass computation, and recipe
// formulas within sampling tolerance.
import Foundation
import Testing
@testable import Initializers

/// Fills `plan` into fresh byte arrays, one per parameter.
func fillToArrays(_ plan: [PlannedParameter], threads: Int, chunk: Int = 4099) throws -> ([[UInt8]], [ObservedStatistics]) {
    var storage = try plan.map { [UInt8](repeating: 0xAB, count: try $0.spec.byteCount()) }
    var pointers: [UnsafeMutableRawBufferPointer] = []
    for i in storage.indices {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(storage[i].count, 1), alignment: 64)
        pointers.append(UnsafeMutableRawBufferPointer(rebasing: p[0..<storage[i].count]))
    }
    defer { for p in pointers { p.deallocate() } }
    let stats = try ModelFill.fill(plan, into: pointers, threads: threads, chunk: chunk)
    for i in storage.indices { storage[i] = Array(pointers[i]) }
    return (storage, stats)
}

func floats(_ bytes: [UInt8]) -> [Float] {
    bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}

@Suite("Recipes: whole-model fills")
struct ModelFillTests {
    static let small = "gpt2:layers=2,dim=48,heads=4,vocab=700,positions=64"

    @Test("the same bytes and statistics for 1, 2 and 8 threads", arguments: [ParameterDType.f32, .bf16, .f16, .f64])
    func threadInvariance(dtype: ParameterDType) throws {
        let spec = try ModelPreset.spec(Self.small, dtype: dtype)
        let p = try InitRecipe.named("gpt2").plan(spec, seed: 7)
        let (a, sa) = try fillToArrays(p, threads: 1)
        for t in [2, 8] {
            let (b, sb) = try fillToArrays(p, threads: t)
            #expect(a == b, "threads \(t)")
            #expect(sa == sb, "statistics, threads \(t)")
        }
    }

    @Test("adding, removing or reordering parameters leaves the others' bytes unchanged")
    func independence() throws {
        let spec = try ModelPreset.spec(Self.small)
        let recipe = try InitRecipe.named("gpt2")
        let (base, _) = try fillToArrays(try recipe.plan(spec, seed: 3), threads: 2)
        var changed = spec
        changed.parameters.insert(ParameterSpec(name: "h.0.extra.weight", shape: [48, 48], role: .weight), at: 5)
        changed.parameters.removeLast()
        changed.parameters.reverse()
        let plan2 = try recipe.plan(changed, seed: 3)
        let (other, _) = try fillToArrays(plan2, threads: 2)
        let before = Dictionary(uniqueKeysWithValues: zip(spec.parameters.map(\.name), base))
        var compared = 0
        for (p, bytes) in zip(plan2, other) where before[p.spec.name] != nil {
            #expect(before[p.spec.name]! == bytes, "\(p.spec.name)")
            compared += 1
        }
        #expect(compared == spec.parameters.count - 1)
    }

    @Test("chunked fills equal one-tensor fills with the parameter's key (chunk edges not group-aligned)")
    func chunksEqualWholeTensor() throws {
        // Units of 4099 elements (not a multiple of the 1536-element truncated-normal group): 100×517 spans 13 units.
        let schemes: [Initializer] = [.heNormal(), .xavierUniform(), .truncatedNormal(mean: 0, std: 0.1, a: -0.1, b: 0.25), .lecunNormal()]
        for s in schemes {
            let spec = ModelSpec(parameters: [ParameterSpec(name: "w", shape: [100, 517], role: .weight)])
            let recipe = InitRecipe(name: "t", rules: [InitRule(roles: [.weight], s)])
            let p = try recipe.plan(spec, seed: 11)
            let (bytes, _) = try fillToArrays(p, threads: 2)
            var ref = [Float](repeating: 0, count: 51_700)
            try s.fill(&ref, shape: [100, 517], key: ParameterKey.key(seed: 11, name: "w"))
            #expect(floats(bytes[0]) == ref, "\(s.name)")
            // Rows 31..<95 through fillRows equal that slice.
            var rows = [UInt8](repeating: 0, count: 64 * 517 * 4)
            _ = try rows.withUnsafeMutableBytes { try ModelFill.fillRows(p[0], rows: 31..<95, into: $0) }
            #expect(floats(rows) == Array(ref[(31 * 517)..<(95 * 517)]), "rows \(s.name)")
        }
        // Whole-tensor schemes (orthogonal) are one unit and equal the direct fill too.
        let spec = ModelSpec(parameters: [ParameterSpec(name: "q", shape: [64, 48], role: .weight)])
        let p = try InitRecipe(name: "o", rules: [InitRule(.orthogonal(gain: 1))]).plan(spec, seed: 1)
        var ref = [Float](repeating: 0, count: 64 * 48)
        try Initializer.orthogonal(gain: 1).fill(&ref, shape: [64, 48], key: ParameterKey.key(seed: 1, name: "q"))
        #expect(floats(try fillToArrays(p, threads: 2).0[0]) == ref)
    }

    @Test("BF16 and F16 rounding: hand-worked bit patterns")
    func halfRounding() {
        #expect(HalfPrecision.bfloat16Bits(1) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80)      // tie → even
        #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82)      // tie → even (up)
        #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)      // above the tie
        #expect(HalfPrecision.bfloat16Bits(-2) == 0xC000)
        #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: 0x7F7F_FFFF)) == 0x7F80)      // max Float rounds to inf
        let nan = HalfPrecision.bfloat16Bits(Float(bitPattern: 0x7F80_0001))             // signalling NaN stays NaN
        #expect(nan & 0x7F80 == 0x7F80 && nan & 0x007F != 0)
        #expect(HalfPrecision.float16Bits(1) == 0x3C00 && HalfPrecision.float16Bits(65504) == 0x7BFF)
        #expect(HalfPrecision.float16Bits(65520) == 0x7C00)                               // rounds to inf
        #expect(HalfPrecision.float16Bits(1.0 / 3) == 0x3555)
    }

    @Test("BF16 output is the F32 fill rounded, statistics describe the stored values")
    func bf16MatchesRoundedF32() throws {
        let f32 = try InitRecipe.named("gpt2").plan(try ModelPreset.spec(Self.small), seed: 5)
        let b16 = try InitRecipe.named("gpt2").plan(try ModelPreset.spec(Self.small, dtype: .bf16), seed: 5)
        let (a, _) = try fillToArrays(f32, threads: 2)
        let (b, sb) = try fillToArrays(b16, threads: 2)
        for i in [0, 4, 6] {
            let rounded = floats(a[i]).map { HalfPrecision.bfloat16Bits($0) }
            let stored = b[i].withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
            #expect(rounded == stored, "\(f32[i].spec.name)")
            let values = stored.map { Double(HalfPrecision.float(bfloat16: $0)) }
            let mean = values.reduce(0, +) / Double(values.count)
            let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
            #expect(abs(sb[i].mean - mean) < 1e-9 && abs(sb[i].std / std - 1) < 1e-5, "\(f32[i].spec.name)")
            #expect(sb[i].min == values.min()! && sb[i].max == values.max()!)
        }
    }

    @Test("observed statistics equal a naive two-pass computation; constants have std exactly 0")
    func statistics() throws {
        let p = try InitRecipe.named("gpt2").plan(try ModelPreset.spec(Self.small), seed: 1)
        let (bytes, stats) = try fillToArrays(p, threads: 2)
        for (i, b) in bytes.enumerated() {
            let v = floats(b).map(Double.init)
            let mean = v.reduce(0, +) / Double(v.count)
            let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
            #expect(stats[i].count == v.count && stats[i].nonFinite == 0)
            #expect(abs(stats[i].mean - mean) <= 1e-9 * max(1, abs(mean)), "\(p[i].spec.name) mean")
            if std == 0 { #expect(stats[i].std == 0, "\(p[i].spec.name)") } else { #expect(abs(stats[i].std / std - 1) < 1e-5, "\(p[i].spec.name) std") }
            #expect(stats[i].min == v.min()! && stats[i].max == v.max()!)
        }
    }

    @Test("gpt2 c_proj std within sampling tolerance of 0.02/√(2·n_layer); pytorch-default bounds respected")
    func recipeFormulas() throws {
        let spec = try ModelPreset.spec("gpt2:layers=2,dim=128,heads=4,vocab=100,positions=16")
        let p = try InitRecipe.named("gpt2").plan(spec, seed: 0)
        let (_, stats) = try fillToArrays(p, threads: 2)
        for (plan, s) in zip(p, stats) where plan.spec.name.hasSuffix("c_proj.weight") {
            let target = 0.02 / 4.0.squareRoot()
            let tol = 6 / (2 * Double(s.count)).squareRoot()       // sample std of a normal: rel. s.e. 1/√(2n)
            print("\(plan.spec.name): observed std \(s.std), target \(target), tolerance \(tol)")
            #expect(abs(s.std / target - 1) < tol)
        }
        let q = try InitRecipe.named("pytorch-default").plan(spec, seed: 0)
        let (_, qs) = try fillToArrays(q, threads: 2)
        for (plan, s) in zip(q, qs) {
            if let bound = plan.expectedBound { #expect(max(abs(s.min), abs(s.max)) <= bound, "\(plan.spec.name)") }
        }
    }

    @Test("destinations of the wrong size are refused before anything is written")
    func destinationSize() throws {
        let p = try InitRecipe.named("gpt2").plan(try ModelPreset.spec("gpt2:layers=1,dim=8,heads=2,vocab=10,positions=4"), seed: 0)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 16)
        defer { buf.deallocate() }
        #expect(throws: RecipeError.self) { try ModelFill.fill(p, into: Array(repeating: buf, count: p.count), threads: 1) }
    }
}
