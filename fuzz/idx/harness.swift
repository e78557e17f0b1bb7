// libFuzzer target: the IDX reader (plain and gzip) on arbitrary bytes.
// Built by scripts/fuzz.sh together with the sources listed in fuzz/idx/sources.
// Every input must either decode or throw a DatasetError: a trap, a sanitizer report, a hang or an
// allocation beyond the cap is a crash. The cap (64 KiB) keeps the memory per input small.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let array = try IDXArray.decode(bytes, name: "fuzz-input", maximumDataBytes: 1 << 16)
        // A decoded array is consistent: its element count is the product of its dimensions.
        precondition(array.dimensions.reduce(1, *) == array.count, "decoded count differs from the dimensions")
    } catch is DatasetError {
        // expected for most inputs
    } catch {
        fatalError("an error that is not a DatasetError: \(error)")
    }
    return 0
}
