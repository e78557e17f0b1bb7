/// Deterministic structured schemes: identity (eye), dirac and delta-orthogonal.
enum StructuredFill {
    /// Identity on a 2-D `[rows, columns]` tensor, rows `rowRange` stored in `shard`.
    static func identity<S: InitializerScalar>(_ shard: UnsafeMutableBufferPointer<S>, columns: Int, rowRange: Range<Int>, gain: Double, threads: Int?) {
        S.fillConstant(shard, 0, threads: threads)
        for i in rowRange where i < columns { shard[(i - rowRange.lowerBound) * columns + i] = S(gain) }
    }

    /// Offset of the tap with index `centre(k)` on every spatial axis, within one `[k…]` block.
    static func centreOffset(spatial: ArraySlice<Int>, centre: (Int) -> Int) -> Int {
        var offset = 0
        for k in spatial { offset = offset * k + centre(k) }
        return offset
    }

    /// PyTorch `dirac_`: `w[g·O/G + d, d, k/2…] = 1` for `d < min(O/G, I)`.
    static func dirac<S: InitializerScalar>(_ shard: UnsafeMutableBufferPointer<S>, shape: [Int], rowRange: Range<Int>, groups: Int, threads: Int?) {
        S.fillConstant(shard, 0, threads: threads)
        let spatial = shape[2...]
        let r = spatial.reduce(1, *), perRow = shape[1] * r
        let outPerGroup = shape[0] / groups, minDim = min(outPerGroup, shape[1])
        let centre = centreOffset(spatial: spatial) { $0 / 2 }
        for g in 0..<groups {
            for d in 0..<minDim {
                let o = g * outPerGroup + d
                if rowRange.contains(o) { shard[(o - rowRange.lowerBound) * perRow + d * r + centre] = 1 }
            }
        }
    }

    /// Delta-orthogonal (Xiao et al. 2018): centre tap `(k−1)/2` holds an orthogonal `[out, in]` matrix.
    static func deltaOrthogonal<S: InitializerScalar>(_ shard: UnsafeMutableBufferPointer<S>, shape: [Int], rowRange: Range<Int>,
                                                      gain: Double, key: RandomKey, threads: Int?) throws(InitializationError) {
        let out = shape[0], inC = shape[1]
        let spatial = shape[2...]
        let r = spatial.reduce(1, *), perRow = inC * r
        var q = [S](repeating: 0, count: out * inC)
        try q.withUnsafeMutableBufferPointer { (p) throws(InitializationError) in
            try Orthogonal.fillWhole(p, rows: out, columns: inC, gain: gain, key: key, threads: threads)
        }
        S.fillConstant(shard, 0, threads: threads)
        let centre = centreOffset(spatial: spatial) { ($0 - 1) / 2 }
        for o in rowRange { for i in 0..<inC { shard[(o - rowRange.lowerBound) * perRow + i * r + centre] = q[o * inC + i] } }
    }
}
