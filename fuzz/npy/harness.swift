// libFuzzer target: the .npy reader (NpyFile) on arbitrary bytes.
// Built by scripts/fuzz.sh with the sources in fuzz/npy/sources (one module, so the internal
// in-memory entry point is reachable). Each input is validated by exactly the code that validates
// a mapped file, from an in-memory copy (`ReadMapping(copying:)`): no file write and mmap per
// input; opening, stat'ing and mapping files are covered by the unit tests. Every input must
// either open (then every floating-point tensor is read) or throw a TensorFileError.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    do {
        let file = try NpyFile(path: "fuzz-input", mapping: ReadMapping(copying: UnsafeRawBufferPointer(start: data, count: size)))
        if file.dtype.isFloatingPoint {
            let values = try file.floats()
            precondition(values.count == file.shape.reduce(1, *), "count differs from the shape")
        }
        file.withBytes { precondition($0.count == file.header.count * file.dtype.size, "data bytes differ from the header") }
    } catch is TensorFileError {
        // expected for most inputs
    } catch {
        fatalError("an error that is not a TensorFileError: \(error)")
    }
    return 0
}
