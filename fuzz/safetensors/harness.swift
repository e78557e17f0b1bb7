// libFuzzer target: the safetensors reader (SafetensorsFile) on arbitrary bytes.
// Built by scripts/fuzz.sh with the sources in fuzz/safetensors/sources (one module, so the
// internal in-memory entry point is reachable). Each input is validated by exactly the code that
// validates a mapped file, from an in-memory copy (`ReadMapping(copying:)`): no file write and
// mmap per input, so the target runs tens of times faster than through a scratch file; opening,
// stat'ing and mapping files are covered by the unit tests. Every input must either open (then
// every floating-point tensor is read) or throw a TensorFileError.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    do {
        let mapping = ReadMapping(copying: UnsafeRawBufferPointer(start: data, count: size))
        let file = try SafetensorsFile(path: "fuzz-input", mapping: mapping)
        for t in file.tensors where t.dtype.isFloatingPoint {
            let values = try file.floats(t.name)
            precondition(values.count == t.shape.reduce(1, *), "tensor \(t.name): count differs from the shape")
        }
    } catch is TensorFileError {
        // expected for most inputs
    } catch {
        fatalError("an error that is not a TensorFileError: \(error)")
    }
    return 0
}
