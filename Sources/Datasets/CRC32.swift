import CZlib

/// CRC-32 (ISO-HDLC / IEEE 802.3: polynomial 0x04C11DB7 reflected, initial value and final XOR
/// 0xFFFFFFFF — the checksum of gzip, PNG and zip, and Python's `zlib.crc32`), computed by the
/// system zlib's `crc32_z`. Check value: `CRC32.checksum("123456789")` is `0xCBF43926`.
/// Used to detect changed or corrupted bytes (checkpoint tensors), not as a cryptographic hash.
public enum CRC32 {
    /// The CRC-32 of `bytes`, continuing from `previous` (the CRC of the bytes before them; 0 to
    /// start), so `checksum(b, continuing: checksum(a)) == checksum(a + b)`. Calls `crc32_z`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return previous }
        return UInt32(truncatingIfNeeded: crc32_z(UInt(previous), base.assumingMemoryBound(to: UInt8.self), bytes.count))
    }

    /// The CRC-32 of the UTF-8 bytes of `text`.
    public static func checksum(_ text: String) -> UInt32 {
        var copy = text
        return copy.withUTF8 { checksum(UnsafeRawBufferPointer($0)) }
    }

    /// `crc` as 8 lowercase hexadecimal digits (`cbf43926`).
    public static func hex(_ crc: UInt32) -> String {
        let h = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - h.count) + h
    }
}
