import Dispatch
import Foundation
import Synchronization

/// Statistics of a filled parameter as stored (after rounding to BF16/F16), accumulated per
/// fixed chunk and combined in chunk order, so they do not depend on the thread count.
public struct ObservedStatistics: Sendable, Hashable, Codable {
    /// Elements.
    public var count: Int
    /// Mean of the finite elements.
    public var mean: Double
    /// Population standard deviation of the finite elements.
    public var std: Double
    /// Smallest and largest finite element (0 for an empty tensor).
    public var min: Double, max: Double
    /// NaN and ±inf elements (e.g. F16 values beyond 65504).
    public var nonFinite: Int
}

/// Partial sums of one chunk: values relative to `shift` (the chunk's first finite value), so a
/// constant chunk has exactly zero spread; chunks are merged with Chan et al.'s pairwise update.
struct ChunkStatistics: Sendable {
    var count = 0, nonFinite = 0
    var mean = 0.0, m2 = 0.0
    var min = Double.infinity, max = -Double.infinity

    mutating func merge(_ o: ChunkStatistics) {
        nonFinite += o.nonFinite
        min = Swift.min(min, o.min); max = Swift.max(max, o.max)
        guard o.count > 0 else { return }
        if count == 0 { count = o.count; mean = o.mean; m2 = o.m2; return }
        let n = Double(count + o.count), delta = o.mean - mean
        mean += delta * Double(o.count) / n
        m2 += o.m2 + delta * delta * Double(count) * Double(o.count) / n
        count += o.count
    }

    func finished(total: Int) -> ObservedStatistics {
        ObservedStatistics(count: total, mean: count > 0 ? mean : 0, std: count > 0 ? (m2 / Double(count)).squareRoot() : 0,
                           min: count > 0 ? min + 0 : 0, max: count > 0 ? max + 0 : 0, nonFinite: nonFinite)
    }

    /// Float values: SIMD sums of (x − shift) and (x − shift)² over blocks of 512 (Float
    /// accumulation within a block, Double across blocks), exact scalar recount when a value is not finite.
    static func of(_ p: UnsafePointer<Float>, _ n: Int) -> ChunkStatistics {
        var s = ChunkStatistics()
        guard n > 0 else { return s }
        let shift = p[0]
        guard shift.isFinite else { return scalar(p, n) }
        let shift8 = SIMD8<Float>(repeating: shift)
        var sum = 0.0, sq = 0.0
        var lo = SIMD8<Float>(repeating: shift), hi = SIMD8<Float>(repeating: shift)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            let end = Swift.min(n - (n - i) % 8, i + 512)
            var s8 = SIMD8<Float>(), q8 = SIMD8<Float>()
            while i < end {
                let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let d = v - shift8
                s8 += d; q8 += d * d
                lo.replace(with: v, where: v .< lo); hi.replace(with: v, where: v .> hi)
                i += 8
            }
            sum += Double(s8.sum()); sq += Double(q8.sum())
        }
        var mn = Double(lo.min()), mx = Double(hi.max())
        while i < n {
            let d = Double(p[i]) - Double(shift)
            sum += d; sq += d * d
            mn = Swift.min(mn, Double(p[i])); mx = Swift.max(mx, Double(p[i]))
            i += 1
        }
        guard sum.isFinite, sq.isFinite, mn.isFinite, mx.isFinite else { return scalar(p, n) }
        let m = sum / Double(n)
        s.count = n; s.mean = Double(shift) + m; s.m2 = Swift.max(0, sq - sum * m)
        s.min = mn; s.max = mx
        return s
    }

    /// Exact two-pass statistics of the finite elements (Double or a non-finite Float chunk).
    static func scalar<T: BinaryFloatingPoint>(_ p: UnsafePointer<T>, _ n: Int) -> ChunkStatistics {
        var s = ChunkStatistics()
        var sum = 0.0
        for i in 0..<n {
            let x = Double(p[i])
            if x.isFinite { s.count += 1; sum += x; s.min = Swift.min(s.min, x); s.max = Swift.max(s.max, x) } else { s.nonFinite += 1 }
        }
        guard s.count > 0 else { return s }
        s.mean = sum / Double(s.count)
        var m2 = 0.0
        for i in 0..<n { let x = Double(p[i]); if x.isFinite { m2 += (x - s.mean) * (x - s.mean) } }
        s.m2 = m2
        return s
    }
}

/// Rounding Float to the 16-bit storage types, round to nearest even.
public enum HalfPrecision {
    /// bfloat16 bits of `x`: the upper 16 bits after adding `0x7FFF + lsb` (round to nearest
    /// even); NaN stays a quiet NaN with the same sign.
    @inline(__always) public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: b >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
    }
    /// The Float a bfloat16 bit pattern stands for (exact).
    @inline(__always) public static func float(bfloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// IEEE binary16 bits of `x` (Swift's `Float16` conversion: nearest even, overflow to ±inf).
    @inline(__always) public static func float16Bits(_ x: Float) -> UInt16 { Float16(x).bitPattern }
    /// The Float an IEEE binary16 bit pattern stands for (exact).
    @inline(__always) public static func float(float16 bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }
}

/// Fills a planned model into caller-provided memory (e.g. the tensors' regions of a mapped
/// output file), tensors and row chunks in parallel.
///
/// Work is cut into fixed units independent of the thread count: a tensor drawn element-wise
/// (constant, uniform, normal, truncated normal) is cut into chunks of `chunkElements`
/// (393 216 = 256·1536, a multiple of the truncated-normal group) and each chunk is filled with
/// the global element offset, so element `i` of a tensor depends only on `(key, i)`; orthogonal,
/// identity, dirac, delta-orthogonal and sparse tensors are one unit each. Workers take units in
/// order from a shared counter. BF16/F16 tensors are drawn in Float into a per-worker scratch of
/// one chunk and rounded per chunk (whole-tensor schemes use a scratch of the tensor). The bytes
/// are therefore identical for any `threads`, and so is every statistic.
public enum ModelFill {
    /// Elements per unit of element-wise work.
    public static let chunkElements = 393_216

    enum Unit { case range(param: Int, start: Int, count: Int), whole(param: Int) }

    /// True when the scheme's element `i` is a function of `(key, i)` alone.
    static func isElementwise(_ plan: FillPlan) -> Bool {
        switch plan {
        case .constant, .uniform, .normal, .truncated: return true
        default: return false
        }
    }

    /// Fills every planned parameter into `targets[i]` (which must hold exactly
    /// `plan[i].spec.byteCount()` bytes, suitably aligned for its dtype, and may be uninitialized)
    /// and returns each parameter's statistics as stored.
    /// - Parameters:
    ///   - threads: workers (≥ 1); the bytes and statistics do not depend on it.
    ///   - progress: called after each unit with the number of bytes it wrote (from worker threads).
    /// - Throws: `RecipeError.destinationSize` for a target of the wrong size, `.initializer`
    ///   when a scheme refuses a parameter (checked for all parameters before anything is written).
    ///   - releaseFilledPages: after each unit, `madvise(MADV_DONTNEED)` the whole pages it filled, so
    ///     the process's resident set stays at about one unit per thread. ONLY for targets in a
    ///     shared file mapping (`MAP_SHARED`, e.g. `SafetensorsWriter`), where the data stays in
    ///     the page cache; on anonymous memory it would discard what was written.
    public static func fill(_ plan: [PlannedParameter], into targets: [UnsafeMutableRawBufferPointer], threads: Int,
                            releaseFilledPages: Bool = false,
                            progress: (@Sendable (Int) -> Void)? = nil) throws(RecipeError) -> [ObservedStatistics] {
        try fill(plan, into: targets, threads: threads, chunk: chunkElements, releaseFilledPages: releaseFilledPages, progress: progress)
    }

    /// `madvise(MADV_DONTNEED)` on the whole pages inside `[start, start + count)`.
    static func release(_ start: UnsafeMutableRawPointer, _ count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (Int(bitPattern: start) + page - 1) / page * page
        let hi = (Int(bitPattern: start) + count) / page * page
        if hi > lo { _ = madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, Int32(MADV_DONTNEED)) }
    }

    /// `fill` with another unit size (tests use small units to exercise unit edges on small tensors).
    static func fill(_ plan: [PlannedParameter], into targets: [UnsafeMutableRawBufferPointer], threads: Int, chunk chunkElements: Int,
                     releaseFilledPages: Bool = false, progress: (@Sendable (Int) -> Void)? = nil) throws(RecipeError) -> [ObservedStatistics] {
        precondition(plan.count == targets.count, "one target per planned parameter")
        guard threads >= 1 else { throw .invalidSpec(what: "threads \(threads)", rule: "must be ≥ 1") }
        var plans: [FillPlan?] = []
        var units: [Unit] = []
        var counts: [Int] = []
        for (i, p) in plan.enumerated() {
            let n = try p.spec.elementCount()
            let bytes = try p.spec.byteCount()
            guard targets[i].count == bytes else { throw .destinationSize(parameter: p.spec.name, expected: bytes, actual: targets[i].count) }
            counts.append(n)
            if n == 0 { plans.append(nil); continue }
            let fp = try representablePlan(p)
            plans.append(fp)
            if isElementwise(fp) {
                var s = 0
                while s < n { let c = Swift.min(chunkElements, n - s); units.append(.range(param: i, start: s, count: c)); s += c }
            } else {
                units.append(.whole(param: i))
            }
        }
        var results = [ChunkStatistics](repeating: ChunkStatistics(), count: units.count)
        var errors = [RecipeError?](repeating: nil, count: units.count)
        let next = UnitCounter()
        let workers = Swift.max(1, Swift.min(threads, units.count))
        results.withUnsafeMutableBufferPointer { res in
            errors.withUnsafeMutableBufferPointer { err in
                let r = UnsafeSendable(res.baseAddress!), e = UnsafeSendable(err.baseAddress!)
                let shared = UnsafeSendable((plan, plans, units, targets))
                DispatchQueue.concurrentPerform(iterations: workers) { _ in
                    let (plan, plans, units, targets) = shared.value
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunkElements)
                    defer { scratch.deallocate() }
                    while true {
                        let u = next.take()
                        guard u < units.count else { break }
                        do throws(RecipeError) {
                            switch units[u] {
                            case let .range(i, start, count):
                                r.value[u] = try fillRange(plan[i], plans[i]!, start: start, count: count, into: targets[i], scratch: scratch)
                                let size = plan[i].spec.dtype.size
                                if releaseFilledPages { release(targets[i].baseAddress! + start * size, count * size) }
                                progress?(count * size)
                            case let .whole(i):
                                r.value[u] = try fillWhole(plan[i], into: targets[i])
                                if releaseFilledPages { release(targets[i].baseAddress!, targets[i].count) }
                                progress?(targets[i].count)
                            }
                        } catch { e.value[u] = error }
                    }
                }
            }
        }
        if let first = errors.first(where: { $0 != nil }) { throw first! }
        var merged = [ChunkStatistics](repeating: ChunkStatistics(), count: plan.count)
        for (u, unit) in units.enumerated() {
            switch unit {
            case let .range(i, _, _), let .whole(i): merged[i].merge(results[u])
            }
        }
        for (i, m) in merged.enumerated() { try requireFinite(plan[i], m) }
        return merged.enumerated().map { $0.element.finished(total: counts[$0.offset]) }
    }

    /// The parameter's fill plan, after checking that its values fit the parameter's dtype
    /// (F64: Double; F32: Float; F16/BF16: the half-precision range, see
    /// `Initializer.checkRepresentable(_:halfPrecision:)`). - Throws: `.initializer`.
    static func representablePlan(_ p: PlannedParameter) throws(RecipeError) -> FillPlan {
        do throws(InitializationError) {
            let fp = try p.initializer.plan(shape: p.spec.shape, layout: p.spec.layout, groups: 1)
            switch p.spec.dtype {
            case .f64: try Initializer.checkRepresentable(fp, Double.self)
            case .f32: try Initializer.checkRepresentable(fp, Float.self)
            case .f16, .bf16: try Initializer.checkRepresentable(fp, halfPrecision: p.spec.dtype == .bf16)
            }
            return fp
        } catch { throw .initializer(parameter: p.spec.name, error) }
    }

    /// The last line of defence after the bound checks of `representablePlan`: a filled tensor
    /// holding NaN or ±inf (e.g. a normal draw beyond the bound that rounds to inf in F16) is a
    /// failure, never written silently. - Throws: `.nonFiniteValues`.
    static func requireFinite(_ p: PlannedParameter, _ s: ChunkStatistics) throws(RecipeError) {
        guard s.nonFinite == 0 else {
            throw .nonFiniteValues(parameter: p.spec.name, dtype: p.spec.dtype.rawValue, count: s.nonFinite)
        }
    }

    /// Fills rows `rows` (first axis) of one planned parameter into `target`, which holds exactly
    /// those rows in the parameter's dtype: the bytes equal those rows of `fill`'s output, so ranks
    /// of a distributed job can each write their rows of one file. Returns the rows' statistics.
    /// - Throws: `.destinationSize`, `.initializer`; `.invalidSpec` for rows outside the shape.
    public static func fillRows(_ p: PlannedParameter, rows: Range<Int>, into target: UnsafeMutableRawBufferPointer) throws(RecipeError) -> ObservedStatistics {
        let n = try p.spec.elementCount()
        let first = p.spec.shape.first ?? 1
        guard rows.lowerBound >= 0, rows.upperBound <= first else {
            throw .invalidSpec(what: "rows \(rows) of '\(p.spec.name)'", rule: "must lie in 0..<\(first)")
        }
        let perRow = first == 0 ? 0 : n / first
        let count = rows.count * perRow, start = rows.lowerBound * perRow
        guard target.count == count * p.spec.dtype.size else {
            throw .destinationSize(parameter: p.spec.name, expected: count * p.spec.dtype.size, actual: target.count)
        }
        if count == 0 { return ChunkStatistics().finished(total: 0) }
        let fp = try representablePlan(p)
        var total = ChunkStatistics()
        if isElementwise(fp) {
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunkElements)
            defer { scratch.deallocate() }
            // Units aligned to the tensor's own chunk grid are not needed for the bytes (element i
            // depends only on (key, i)); chunk only to bound the scratch.
            var s = 0
            while s < count {
                let c = Swift.min(chunkElements, count - s)
                let sub = UnsafeMutableRawBufferPointer(rebasing: target[(s * p.spec.dtype.size)..<((s + c) * p.spec.dtype.size)])
                total.merge(try fillRange(p, fp, start: start + s, count: c, into: sub, scratch: scratch, offset: false))
                s += c
            }
        } else {
            total = try fillStructured(p, rows: rows, count: count, into: target)
        }
        try requireFinite(p, total)
        return total.finished(total: count)
    }

    /// One chunk of an element-wise tensor: elements `[start, start+count)` of the tensor go to
    /// `target` at byte offset `start·size` (or 0 when `offset` is false).
    static func fillRange(_ p: PlannedParameter, _ fp: FillPlan, start: Int, count: Int, into target: UnsafeMutableRawBufferPointer,
                          scratch: UnsafeMutablePointer<Float>, offset: Bool = true) throws(RecipeError) -> ChunkStatistics {
        let base = target.baseAddress! + (offset ? start * p.spec.dtype.size : 0)
        do throws(InitializationError) {
            switch p.spec.dtype {
            case .f64:
                let out = UnsafeMutableBufferPointer(start: base.assumingMemoryBound(to: Double.self), count: count)
                try draw(fp, out, key: p.key, start: start)
                return ChunkStatistics.scalar(UnsafePointer(out.baseAddress!), count)
            case .f32:
                let out = UnsafeMutableBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count)
                try draw(fp, out, key: p.key, start: start)
                return ChunkStatistics.of(UnsafePointer(out.baseAddress!), count)
            case .bf16, .f16:
                let tmp = UnsafeMutableBufferPointer(start: scratch, count: count)
                try draw(fp, tmp, key: p.key, start: start)
                round(tmp, to: base.assumingMemoryBound(to: UInt16.self), bf16: p.spec.dtype == .bf16)
                return ChunkStatistics.of(UnsafePointer(scratch), count)
            }
        } catch { throw .initializer(parameter: p.spec.name, error) }
    }

    /// Draws element-wise plan values for global elements `[start, start + out.count)`, one thread.
    static func draw<S: InitializerScalar>(_ fp: FillPlan, _ out: UnsafeMutableBufferPointer<S>, key: RandomKey, start: Int) throws(InitializationError) {
        switch fp {
        case let .constant(v): S._fillConstant(out.baseAddress!, count: out.count, value: S(v))
        case let .uniform(lo, hi): try RandomFill.uniform(out, low: lo, high: hi, key: key, start: start, threads: 1)
        case let .normal(m, s): try RandomFill.normal(out, mean: m, std: s, key: key, start: start, threads: 1)
        case let .truncated(m, s, a, b): try RandomFill.truncatedNormal(out, mean: m, std: s, a: a, b: b, key: key, start: start, threads: 1)
        default: preconditionFailure("draw is for element-wise plans")
        }
    }

    /// Rounds `values` to BF16/F16 into `out`, and replaces each value by the one stored (so the
    /// statistics describe the file).
    static func round(_ values: UnsafeMutableBufferPointer<Float>, to out: UnsafeMutablePointer<UInt16>, bf16: Bool) {
        if bf16 {
            for i in 0..<values.count { let h = HalfPrecision.bfloat16Bits(values[i]); out[i] = h; values[i] = HalfPrecision.float(bfloat16: h) }
        } else {
            for i in 0..<values.count { let h = HalfPrecision.float16Bits(values[i]); out[i] = h; values[i] = HalfPrecision.float(float16: h) }
        }
    }

    static func fillWhole(_ p: PlannedParameter, into target: UnsafeMutableRawBufferPointer) throws(RecipeError) -> ChunkStatistics {
        let n = try p.spec.elementCount()
        return try fillStructured(p, rows: 0..<(p.spec.shape.first ?? 1), count: n, into: target)
    }

    /// Whole-tensor schemes (orthogonal, identity, dirac, delta-orthogonal, sparse) through
    /// `Initializer.fillShard`, one thread; BF16/F16 through a Float scratch of the rows.
    static func fillStructured(_ p: PlannedParameter, rows: Range<Int>, count: Int, into target: UnsafeMutableRawBufferPointer) throws(RecipeError) -> ChunkStatistics {
        let base = target.baseAddress!
        do throws(InitializationError) {
            switch p.spec.dtype {
            case .f64:
                let out = UnsafeMutableBufferPointer(start: base.assumingMemoryBound(to: Double.self), count: count)
                try p.initializer.fillShard(out, shape: p.spec.shape, rows: rows, layout: p.spec.layout, key: p.key, threads: 1)
                return ChunkStatistics.scalar(UnsafePointer(out.baseAddress!), count)
            case .f32:
                let out = UnsafeMutableBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count)
                try p.initializer.fillShard(out, shape: p.spec.shape, rows: rows, layout: p.spec.layout, key: p.key, threads: 1)
                return ChunkStatistics.of(UnsafePointer(out.baseAddress!), count)
            case .bf16, .f16:
                let tmp = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
                defer { tmp.deallocate() }
                try p.initializer.fillShard(tmp, shape: p.spec.shape, rows: rows, layout: p.spec.layout, key: p.key, threads: 1)
                round(tmp, to: base.assumingMemoryBound(to: UInt16.self), bf16: p.spec.dtype == .bf16)
                return ChunkStatistics.of(UnsafePointer(tmp.baseAddress!), count)
            }
        } catch { throw .initializer(parameter: p.spec.name, error) }
    }
}

/// The next unit of work, shared by the workers.
final class UnitCounter: Sendable {
    private let value = Atomic<Int>(0)
    func take() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}
