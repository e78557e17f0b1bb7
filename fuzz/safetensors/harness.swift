// libFuzzer target: the safetensors reader (SafetensorsFile) on arbitrary bytes.
// Built by scripts/fuzz.sh with the sources in fuzz/safetensors/sources. The reader maps a file,
// so each input is written to a per-process scratch file first. Every input must either open
// (then every floating-point tensor is read) or throw a TensorFileError.
#if canImport(Glibc)
import Glibc
#endif

let scratch = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/wi-fuzz-safetensors-\(getpid())"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "cannot create the scratch file")
    var written = 0
    while written < size {
        let n = write(fd, data + written, size - written)
        precondition(n > 0, "write failed")
        written += n
    }
    close(fd)
    do {
        let file = try SafetensorsFile(path: scratch)
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
