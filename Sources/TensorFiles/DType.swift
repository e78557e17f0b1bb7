// Element types of safetensors and .npy files, and the Float ↔ F16/BF16 conversions.
//
// Facts: the safetensors dtype names and the reference writer's ordering come from
// huggingface/safetensors `safetensors/src/tensor.rs` (enum `Dtype`, whose declaration order is
// the sort key of `serialize`); IEEE 754-2008 binary16; bfloat16 as the upper 16 bits of binary32
// (Google Brain, 2019; PyTorch `c10/util/BFloat16.h` rounds to nearest even, NaN stays NaN).

/// A tensor element type, named as safetensors names it.
///
/// Sizes are in bytes. `F16`, `BF16`, `F32`, `F64` are read and written as numbers; the integer
/// types, `BOOL` and the 8-bit floats are read and written as raw little-endian bytes.
/// Sub-byte types (`F4`, `F6_*`) are not supported (a typed error on read).
public enum DType: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ
    case I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64

    public var description: String { rawValue }

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3, .F8_E8M0, .F8_E4M3FNUZ, .F8_E5M2FNUZ: return 1
        case .I16, .U16, .F16, .BF16: return 2
        case .I32, .U32, .F32: return 4
        case .C64, .F64, .I64, .U64: return 8
        }
    }

    /// Position in the reference implementation's `Dtype` enum (safetensors 0.4–0.8
    /// `tensor.rs`), whose derived ordering `serialize` sorts by, descending. Sub-byte types
    /// (F4, F6_E2M3, F6_E3M2), which this package does not support, sit between BOOL and U8.
    public var referenceOrder: Int {
        switch self {
        case .BOOL: return 0
        case .U8: return 4
        case .I8: return 5
        case .F8_E5M2: return 6
        case .F8_E4M3: return 7
        case .F8_E8M0: return 8
        case .F8_E4M3FNUZ: return 9
        case .F8_E5M2FNUZ: return 10
        case .I16: return 11
        case .U16: return 12
        case .F16: return 13
        case .BF16: return 14
        case .I32: return 15
        case .U32: return 16
        case .F32: return 17
        case .C64: return 18
        case .F64: return 19
        case .I64: return 20
        case .U64: return 21
        }
    }

    /// Whether values convert to and from `Float`/`Double` (F16, BF16, F32, F64).
    public var isFloatingPoint: Bool { self == .F16 || self == .BF16 || self == .F32 || self == .F64 }

    /// The numpy `descr` of this type in a little-endian `.npy` file (`<f4`, `|u1`, `|b1`, …);
    /// nil when numpy has no such type (BF16, the 8-bit floats).
    public var npyDescr: String? {
        switch self {
        case .BOOL: return "|b1"
        case .U8: return "|u1"
        case .I8: return "|i1"
        case .I16: return "<i2"
        case .U16: return "<u2"
        case .F16: return "<f2"
        case .I32: return "<i4"
        case .U32: return "<u4"
        case .F32: return "<f4"
        case .C64: return "<c8"
        case .F64: return "<f8"
        case .I64: return "<i8"
        case .U64: return "<u8"
        default: return nil
        }
    }

    /// The type whose `npyDescr` is `descr` (also accepts `=` and, for one-byte types, `<`
    /// as numpy does); nil otherwise (big-endian and unknown types).
    public init?(npyDescr descr: String) {
        var d = descr
        if d.hasPrefix("=") { d = "<" + d.dropFirst() }
        if let t = DType.allCases.first(where: { $0.npyDescr == d }) { self = t; return }
        if d.hasPrefix("<"), let t = DType.allCases.first(where: { $0.size == 1 && $0.npyDescr == "|" + d.dropFirst() }) {
            self = t; return
        }
        return nil
    }
}

/// Float ↔ half-precision and bfloat16 bit conversions.
public enum FloatBits {
    /// IEEE binary16 bits of `x`, rounded to nearest, ties to even; overflow gives ±inf,
    /// values below half the smallest subnormal give ±0, NaN stays NaN (quiet, sign and top
    /// payload bits kept). Matches `Float16(x)`, numpy `astype(float16)` and PyTorch `.half()`.
    @inline(__always)
    public static func f16(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: (b >> 16) & 0x8000)
        let exp = Int((b >> 23) & 0xff)
        let man = b & 0x7f_ffff
        if exp == 0xff { return man == 0 ? sign | 0x7c00 : sign | 0x7e00 | UInt16(truncatingIfNeeded: man >> 13) }
        let e = exp - 112 // exponent re-biased for binary16 (127 - 15)
        if e >= 31 { return sign | 0x7c00 }
        if e <= 0 {
            if e < -10 { return sign }
            let m = man | 0x80_0000
            let shift = UInt32(14 - e)
            var h = m >> shift
            let rem = m & ((1 << shift) - 1), half = UInt32(1) << (shift - 1)
            if rem > half || (rem == half && h & 1 == 1) { h += 1 }
            return sign | UInt16(truncatingIfNeeded: h)
        }
        var h = UInt32(e) << 10 | (man >> 13)
        let rem = man & 0x1fff
        if rem > 0x1000 || (rem == 0x1000 && h & 1 == 1) { h += 1 }
        return sign | UInt16(truncatingIfNeeded: h)
    }

    /// The `Float` value of IEEE binary16 bits `h` (exact).
    @inline(__always)
    public static func float(f16 h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32(h >> 10) & 0x1f
        let man = UInt32(h & 0x3ff)
        if exp == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | (man << 13)) }
        if exp == 0 {
            let v = Float(man) * 0x1p-24
            return sign != 0 ? -v : v
        }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (man << 13))
    }

    /// bfloat16 bits of `x`: the upper 16 bits of binary32 rounded to nearest, ties to even;
    /// overflow gives ±inf; NaN stays NaN (quiet bit set, sign kept). Matches PyTorch
    /// `c10::BFloat16` and `ml_dtypes.bfloat16`.
    @inline(__always)
    public static func bf16(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: b >> 16) | 0x0040 }
        let r = b &+ 0x7fff &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: r >> 16)
    }

    /// The `Float` value of bfloat16 bits `h` (exact).
    @inline(__always)
    public static func float(bf16 h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }
}
