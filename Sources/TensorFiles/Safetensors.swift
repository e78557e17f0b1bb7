// safetensors: layout computation (pure), streaming atomic writer, validating mmap reader.
//
// Format (huggingface/safetensors README and `safetensors/src/tensor.rs`): 8-byte little-endian
// u64 N; N bytes of UTF-8 JSON: an object mapping each tensor name to
// {"dtype":"F32","shape":[2,3],"data_offsets":[begin,end]} (offsets relative to the data
// section, end exclusive) plus an optional "__metadata__" object of string values; then the
// data section. The reference writer (safetensors 0.4–0.8, checked against 0.8.0) emits compact
// JSON with `__metadata__` first, then the tensors in data order; it orders tensors by dtype
// descending (the `Dtype` enum's order: U64 I64 F64 C64 F32 U32 I32 BF16 F16 U16 I16 … U8
// BOOL), then by name; and pads the header with spaces to a multiple of 8.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor of a file to write: name, element type and shape (row-major, C order; PyTorch
/// layout for weights, `[out, in]` for Linear and `[out, in/groups, kh, kw]` for Conv2d).
public struct TensorSpec: Sendable, Equatable {
    /// The tensor's name (any UTF-8 string except `__metadata__`; must be unique in a file).
    public var name: String
    /// The element type.
    public var dtype: DType
    /// The shape; `[]` is a 0-d (scalar) tensor of one element; a 0 anywhere gives no elements.
    public var shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name; self.dtype = dtype; self.shape = shape
    }

    /// The element count, overflow-checked; nil for a negative dimension or an overflow.
    public var elementCount: Int? { checkedCount(shape) }

    /// The byte size (count × dtype size), overflow-checked; nil on overflow.
    public var byteCount: Int? {
        guard let n = elementCount else { return nil }
        let (b, o) = n.multipliedReportingOverflow(by: dtype.size)
        return o ? nil : b
    }
}

/// The product of `shape`, or nil when a dimension is negative or the product overflows Int.
/// A zero dimension gives 0 even when other dimensions are huge (as numpy and the reference).
func checkedCount(_ shape: [Int]) -> Int? {
    guard shape.allSatisfy({ $0 >= 0 }) else { return nil }
    if shape.contains(0) { return 0 }
    var n = 1
    for d in shape {
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}

/// Where one tensor lies in a safetensors file.
public struct TensorLocation: Sendable, Equatable {
    /// Name, dtype and shape.
    public let spec: TensorSpec
    /// Element count.
    public let count: Int
    /// Byte offset of the first element relative to the data section (the `data_offsets` begin).
    public let dataOffset: Int
    /// Byte length (count × dtype size).
    public let byteCount: Int
    /// Absolute byte offset in the file (8 + header length + `dataOffset`).
    public let fileOffset: Int

    public var name: String { spec.name }
    public var dtype: DType { spec.dtype }
    public var shape: [Int] { spec.shape }
}

/// The complete layout of a safetensors file computed from its tensor list and metadata: the
/// header bytes and every tensor's offsets. A pure function of its inputs, so every process of
/// a distributed write computes identical bytes and offsets.
public struct SafetensorsLayout: Sendable, Equatable {
    /// The 8-byte length prefix followed by the JSON header padded with spaces to a multiple
    /// of 8 bytes: the file's first `dataStart` bytes.
    public let headerBytes: [UInt8]
    /// Tensors in file order (the reference writer's order).
    public let tensors: [TensorLocation]
    /// Metadata in the order written.
    public let metadata: [(String, String)]?
    /// Absolute offset of the data section (8 + padded header length).
    public let dataStart: Int
    /// Total file size in bytes.
    public let fileSize: Int
    private let index: [String: Int]

    public static func == (a: SafetensorsLayout, b: SafetensorsLayout) -> Bool {
        a.headerBytes == b.headerBytes && a.tensors == b.tensors
    }

    /// The default metadata, `{"format": "pt"}`: Hugging Face `transformers` refuses to load
    /// files without it.
    public static let defaultMetadata: [(String, String)] = [("format", "pt")]

    /// Computes the layout.
    ///
    /// - Parameters:
    ///   - tensors: the tensors in any order; they are sorted as the reference writer sorts
    ///     them (dtype descending by the reference `Dtype` enum order, then name by bytes).
    ///   - metadata: `__metadata__` entries, written in the given order; nil writes none. The
    ///     reference keeps metadata in a hash map, so with two or more entries its key order is
    ///     unspecified; with zero or one entry our bytes equal `safetensors.numpy.save_file`.
    /// - Throws: `TensorFileError` `.invalidSpec` (empty, duplicate or reserved name, negative
    ///   dimension), `.countOverflow`.
    public init(tensors specs: [TensorSpec], metadata: [(String, String)]? = SafetensorsLayout.defaultMetadata,
                file: String = "<layout>") throws {
        var seen = Set<String>()
        for s in specs {
            guard !s.name.isEmpty else { throw TensorFileError(file: file, tensor: s.name, rule: .invalidSpec, "tensor name is empty") }
            guard s.name != "__metadata__" else { throw TensorFileError(file: file, tensor: s.name, rule: .invalidSpec, "the name __metadata__ is reserved") }
            guard seen.insert(s.name).inserted else { throw TensorFileError(file: file, tensor: s.name, rule: .invalidSpec, "duplicate tensor name") }
            guard s.shape.allSatisfy({ $0 >= 0 }) else { throw TensorFileError(file: file, tensor: s.name, rule: .invalidSpec, "shape \(s.shape) has a negative dimension") }
            guard s.byteCount != nil else { throw TensorFileError(file: file, tensor: s.name, rule: .countOverflow, "shape \(s.shape) × \(s.dtype.size) bytes overflows Int") }
        }
        if let metadata {
            var keys = Set<String>()
            for (k, _) in metadata where !keys.insert(k).inserted {
                throw TensorFileError(file: file, rule: .invalidSpec, "duplicate metadata key '\(k)'")
            }
        }
        let sorted = specs.sorted { a, b in
            if a.dtype.referenceOrder != b.dtype.referenceOrder { return a.dtype.referenceOrder > b.dtype.referenceOrder }
            return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }
        var json: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        if let metadata {
            json += Array("\"__metadata__\":{".utf8)
            for (i, (k, v)) in metadata.enumerated() {
                if i > 0 { json.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(k, to: &json)
                json.append(UInt8(ascii: ":"))
                JSONWriter.appendString(v, to: &json)
            }
            json.append(UInt8(ascii: "}"))
            first = false
        }
        var offset = 0
        var partial: [(TensorSpec, Int, Int, Int)] = []
        for s in sorted {
            let n = s.elementCount!, b = s.byteCount!
            let (end, o) = offset.addingReportingOverflow(b)
            guard !o else { throw TensorFileError(file: file, tensor: s.name, rule: .countOverflow, "total data size overflows Int") }
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            JSONWriter.appendString(s.name, to: &json)
            json += Array(":{\"dtype\":\"\(s.dtype.rawValue)\",\"shape\":[\(s.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}".utf8)
            partial.append((s, n, offset, b))
            offset = end
        }
        json.append(UInt8(ascii: "}"))
        let pad = (8 - json.count % 8) % 8
        json += [UInt8](repeating: 0x20, count: pad)
        var header = [UInt8](repeating: 0, count: 8)
        var n = UInt64(json.count)
        for i in 0..<8 { header[i] = UInt8(truncatingIfNeeded: n); n >>= 8 }
        header += json
        headerBytes = header
        dataStart = header.count
        let (size, o) = dataStart.addingReportingOverflow(offset)
        guard !o else { throw TensorFileError(file: file, rule: .countOverflow, "file size overflows Int") }
        fileSize = size
        tensors = partial.map { TensorLocation(spec: $0.0, count: $0.1, dataOffset: $0.2, byteCount: $0.3, fileOffset: header.count + $0.2) }
        self.metadata = metadata
        var idx: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { idx[t.name] = i }
        index = idx
    }

    /// The location of the tensor called `name`, or nil.
    public func location(of name: String) -> TensorLocation? { index[name].map { tensors[$0] } }
}

// MARK: - Writer

/// Writes a safetensors file in place, atomically, without a whole-model buffer.
///
/// The file is created as a temporary file beside the target (`OutputFile`), sized to the
/// layout's `fileSize` (sparse), the header written, and the whole file mapped shared; each
/// tensor is then filled straight into the mapping — by a callback that receives its bytes
/// (`fill(_:_:)`), or copied from an array with conversion (`write(_:floats:)`) — and
/// `commit()` publishes the file (fsync, rename, fsync of the directory). Tensors never filled
/// read as zeros. On error or release without commit the temporary file is removed.
///
/// Thread safety: different tensors, and disjoint ranges of one tensor, may be filled from
/// several threads concurrently. Byte-identical to `safetensors.numpy.save_file(tensors,
/// metadata=...)` for the same arrays (see `SafetensorsLayout` for metadata order).
///
/// Several processes: each computes the same `SafetensorsLayout`; rank 0 creates the writer and
/// broadcasts `output.temporaryPath`; other ranks use `init(openingTemporary:for:layout:)`,
/// fill their rows, `finish()`; after a barrier rank 0 calls `commit()`.
public final class SafetensorsWriter: @unchecked Sendable {
    /// The layout being written.
    public let layout: SafetensorsLayout
    /// The underlying atomic output file.
    public let output: OutputFile
    private let mapping: MappedRegion

    /// Creates the temporary file for `path`, sized and with its header written.
    /// - Throws: `OutputFileError` (target refused, I/O); `TensorFileError` (tensor list).
    public convenience init(path: String, tensors: [TensorSpec],
                            metadata: [(String, String)]? = SafetensorsLayout.defaultMetadata) throws {
        try self.init(path: path, layout: SafetensorsLayout(tensors: tensors, metadata: metadata, file: path))
    }

    /// Creates the temporary file for `path` with a precomputed layout.
    public init(path: String, layout: SafetensorsLayout) throws {
        self.layout = layout
        let out = try OutputFile(path)
        do {
            try out.setSize(layout.fileSize)
            try layout.headerBytes.withUnsafeBytes { try out.write($0, at: 0) }
            mapping = try out.map()
        } catch {
            out.discard()
            throw error
        }
        output = out
    }

    /// Opens another process's temporary file (MPI ranks other than 0) to fill tensors or rows
    /// of it. The header is written by the owner. This writer cannot commit.
    public init(openingTemporary temporaryPath: String, for path: String, layout: SafetensorsLayout) throws {
        self.layout = layout
        output = try OutputFile(openingTemporary: temporaryPath, for: path)
        mapping = try output.map(length: layout.fileSize)
    }

    private func location(_ name: String) throws -> TensorLocation {
        guard let loc = layout.location(of: name) else {
            throw TensorFileError(file: output.path, tensor: name, rule: .tensorNotFound, "no tensor of this name in the layout")
        }
        return loc
    }

    /// Calls `body` with the tensor's bytes in the mapped output (`byteCount` bytes, C order,
    /// little-endian elements), to fill in place. May run concurrently for different tensors.
    /// - Throws: `.tensorNotFound`; what `body` throws.
    public func fill<R>(_ name: String, _ body: (UnsafeMutableRawBufferPointer) throws -> R) throws -> R {
        let loc = try location(name)
        return try mapping.withUnsafeMutableBytes { all in
            try body(UnsafeMutableRawBufferPointer(rebasing: all[loc.fileOffset..<(loc.fileOffset + loc.byteCount)]))
        }
    }

    /// Writes `values` into the tensor starting at element `start`, converting Float to the
    /// tensor's dtype (F32 copied, F64 widened, F16/BF16 rounded to nearest even).
    /// - Throws: `.mismatch` when the dtype is not floating point or the range exceeds the
    ///   tensor; `.notRepresentable` when a finite value would round to ±inf in the dtype
    ///   (beyond 65504 for F16, about 3.39e38 for BF16; nothing is written); `.tensorNotFound`.
    ///   NaN and ±inf values are stored as such.
    public func write(_ name: String, floats values: [Float], startingAt start: Int = 0) throws {
        let loc = try location(name)
        guard loc.dtype.isFloatingPoint else {
            throw TensorFileError(file: output.path, tensor: name, rule: .mismatch, "cannot write Float values into a \(loc.dtype) tensor")
        }
        guard start >= 0, start <= loc.count, values.count <= loc.count - start else {
            throw TensorFileError(file: output.path, tensor: name, rule: .mismatch, "\(values.count) values at element \(start) exceed the tensor's \(loc.count) elements")
        }
        if let i = values.firstIndex(where: { !TensorConvert.roundsFinite(Double($0), to: loc.dtype) }) {
            throw TensorConvert.overflowError(file: output.path, tensor: name, value: Double(values[i]), element: start + i, dtype: loc.dtype)
        }
        try fill(name) { buf in
            values.withUnsafeBufferPointer { src in
                TensorConvert.store(src, as: loc.dtype, into: buf, at: start)
            }
        }
    }

    /// Writes `values` (F64 tensors exactly; other float dtypes rounded) at element `start`.
    /// - Throws: as `write(_:floats:startingAt:)` (`.notRepresentable` also for F32 beyond ±3.4e38).
    public func write(_ name: String, doubles values: [Double], startingAt start: Int = 0) throws {
        let loc = try location(name)
        guard loc.dtype.isFloatingPoint else {
            throw TensorFileError(file: output.path, tensor: name, rule: .mismatch, "cannot write Double values into a \(loc.dtype) tensor")
        }
        guard start >= 0, start <= loc.count, values.count <= loc.count - start else {
            throw TensorFileError(file: output.path, tensor: name, rule: .mismatch, "\(values.count) values at element \(start) exceed the tensor's \(loc.count) elements")
        }
        if let i = values.firstIndex(where: { !TensorConvert.roundsFinite($0, to: loc.dtype) }) {
            throw TensorConvert.overflowError(file: output.path, tensor: name, value: values[i], element: start + i, dtype: loc.dtype)
        }
        try fill(name) { buf in
            let p = buf.baseAddress
            for (i, v) in values.enumerated() {
                let j = start + i
                switch loc.dtype {
                case .F64: p!.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 8 * j, as: UInt64.self)
                case .F32: p!.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: 4 * j, as: UInt32.self)
                case .F16: p!.storeBytes(of: FloatBits.f16(Float(v)).littleEndian, toByteOffset: 2 * j, as: UInt16.self)
                default: p!.storeBytes(of: FloatBits.bf16(Float(v)).littleEndian, toByteOffset: 2 * j, as: UInt16.self)
                }
            }
        }
    }

    /// Copies raw bytes (already in the tensor's dtype, little-endian) into the tensor at byte
    /// offset `byteOffset` of the tensor.
    /// - Throws: `.mismatch` when the range exceeds the tensor.
    public func write(_ name: String, rawBytes: UnsafeRawBufferPointer, atByte byteOffset: Int = 0) throws {
        let loc = try location(name)
        guard byteOffset >= 0, byteOffset <= loc.byteCount, rawBytes.count <= loc.byteCount - byteOffset else {
            throw TensorFileError(file: output.path, tensor: name, rule: .mismatch, "\(rawBytes.count) bytes at byte \(byteOffset) exceed the tensor's \(loc.byteCount) bytes")
        }
        try fill(name) { buf in
            if let src = rawBytes.baseAddress, rawBytes.count > 0 { (buf.baseAddress! + byteOffset).copyMemory(from: src, byteCount: rawBytes.count) }
        }
    }

    /// Unmaps and closes without committing (non-owner ranks, after their writes). Call
    /// `output.sync()` first when durability is wanted.
    public func finish() {
        mapping.unmap()
        output.close()
    }

    /// Publishes the file: unmap, then `OutputFile.commit(durable:)`.
    /// - Throws: `OutputFileError`; the temporary file is removed and the target unchanged on error.
    public func commit(durable: Bool = true) throws {
        mapping.unmap()
        try output.commit(durable: durable)
    }

    /// Abandons the file: the temporary file is removed, the target unchanged.
    public func discard() {
        mapping.unmap()
        output.discard()
    }

    /// Writes a whole file from arrays of Float (converted to each tensor's dtype).
    /// - Parameter tensors: name → (dtype, shape, values in C order; count must equal the shape's).
    /// - Throws: `TensorFileError`, `OutputFileError`.
    public static func write(path: String, tensors: [(name: String, dtype: DType, shape: [Int], values: [Float])],
                             metadata: [(String, String)]? = SafetensorsLayout.defaultMetadata, durable: Bool = true) throws {
        let specs = tensors.map { TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        for (t, s) in zip(tensors, specs) where s.elementCount != t.values.count {
            throw TensorFileError(file: path, tensor: t.name, rule: .mismatch, "\(t.values.count) values for shape \(t.shape) (\(s.elementCount.map(String.init) ?? "overflowing") elements)")
        }
        let w = try SafetensorsWriter(path: path, tensors: specs, metadata: metadata)
        do {
            for t in tensors { try w.write(t.name, floats: t.values) }
            try w.commit(durable: durable)
        } catch {
            w.discard()
            throw error
        }
    }
}

/// Element conversions between Float/Double and the floating-point dtypes (little-endian).
public enum TensorConvert {
    /// The largest finite value of a floating-point dtype: 65504 (F16), (2 − 2⁻⁷)·2¹²⁷ ≈ 3.3895e38
    /// (BF16), `Float.greatestFiniteMagnitude` (F32), `Double.greatestFiniteMagnitude` (F64); nil otherwise.
    public static func largestFinite(_ dtype: DType) -> Double? {
        switch dtype {
        case .F16: return 65504
        case .BF16: return Double(Float(bitPattern: 0x7F7F_0000))
        case .F32: return Double(Float.greatestFiniteMagnitude)
        case .F64: return Double.greatestFiniteMagnitude
        default: return nil
        }
    }

    /// Whether `x` is stored as a finite value in `dtype` (via Float for F32/F16/BF16, rounded to
    /// nearest even), or is itself NaN or ±inf (stored as such). `false` exactly when a finite
    /// value would become ±inf.
    @inline(__always)
    public static func roundsFinite(_ x: Double, to dtype: DType) -> Bool {
        guard x.isFinite else { return true }
        switch dtype {
        case .F64: return true
        case .F32: return Float(x).isFinite
        case .F16: return FloatBits.float(f16: FloatBits.f16(Float(x))).isFinite
        case .BF16: return Float(x).isFinite && FloatBits.float(bf16: FloatBits.bf16(Float(x))).isFinite
        default: return true
        }
    }

    static func overflowError(file: String, tensor: String, value: Double, element: Int, dtype: DType) -> TensorFileError {
        TensorFileError(file: file, tensor: tensor, rule: .notRepresentable,
                        "value \(value) at element \(element) is beyond the largest finite \(dtype) (\(largestFinite(dtype) ?? 0)); it would be stored as inf")
    }

    /// Stores `src` into `dst` (bytes of a tensor of `dtype`) starting at element `start`.
    /// Precondition: `dtype.isFloatingPoint` and the range fits `dst`.
    public static func store(_ src: UnsafeBufferPointer<Float>, as dtype: DType, into dst: UnsafeMutableRawBufferPointer, at start: Int) {
        guard src.count > 0, let d = dst.baseAddress else { return }
        precondition((start + src.count) * dtype.size <= dst.count)
        switch dtype {
        case .F32:
            (d + 4 * start).copyMemory(from: src.baseAddress!, byteCount: 4 * src.count)
        case .F64:
            let p = (d + 8 * start).bindMemory(to: Double.self, capacity: src.count)
            for i in 0..<src.count { p[i] = Double(src[i]) }
        case .F16:
            let p = (d + 2 * start).bindMemory(to: UInt16.self, capacity: src.count)
            for i in 0..<src.count { p[i] = FloatBits.f16(src[i]) }
        case .BF16:
            let p = (d + 2 * start).bindMemory(to: UInt16.self, capacity: src.count)
            for i in 0..<src.count { p[i] = FloatBits.bf16(src[i]) }
        default:
            preconditionFailure("TensorConvert.store: \(dtype) is not a floating-point dtype")
        }
    }

    /// Element `i` of `bytes` (a tensor of floating-point `dtype`) as Double (exact).
    @inline(__always)
    public static func double(_ bytes: UnsafeRawPointer, _ i: Int, _ dtype: DType) -> Double {
        switch dtype {
        case .F32: return Double(Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
        case .F64: return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
        case .F16: return Double(FloatBits.float(f16: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
        case .BF16: return Double(FloatBits.float(bf16: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
        default: preconditionFailure("TensorConvert.double: \(dtype) is not a floating-point dtype")
        }
    }
}

// MARK: - Reader

/// A read-only memory mapping of a whole file (or, for the fuzz targets, a private copy of
/// bytes in memory, read through the same validation code without a file).
final class ReadMapping: @unchecked Sendable {
    let base: UnsafeRawPointer?
    let count: Int
    /// True for a copy made by `init(copying:)` (freed with `deallocate`, pages never released).
    private let owned: Bool

    /// A private copy of `bytes`.
    init(copying bytes: UnsafeRawBufferPointer) {
        count = bytes.count
        owned = true
        if count == 0 { base = nil; return }
        let p = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        p.copyMemory(from: bytes.baseAddress!, byteCount: count)
        base = UnsafeRawPointer(p)
    }

    init(path: String) throws {
        owned = false
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw TensorFileError(file: path, rule: .io, "open: \(String(cString: strerror(errno)))") }
        defer { _ = closeFD(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TensorFileError(file: path, rule: .io, "fstat: \(String(cString: strerror(errno)))") }
        guard FileKind(mode: st.st_mode) == .regular else {
            throw TensorFileError(file: path, rule: .io, "not a regular file (\(FileKind(mode: st.st_mode)))")
        }
        count = Int(st.st_size)
        if count == 0 { base = nil; return }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw TensorFileError(file: path, rule: .io, "mmap of \(count) bytes: \(String(cString: strerror(errno)))") }
        base = UnsafeRawPointer(p)
    }

    deinit {
        guard let base else { return }
        if owned { UnsafeMutableRawPointer(mutating: base).deallocate() } else { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : count) }

    /// Drops the whole pages inside `range` (absolute offsets) from this process's resident
    /// set (`madvise(MADV_DONTNEED)`; the mapping is private and never written, so the pages are
    /// read again from the file if touched). Offsets outside the mapping are clamped.
    func releasePages(_ range: Range<Int>) {
        guard let base, !owned else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (Swift.max(0, range.lowerBound) + page - 1) / page * page
        let hi = Swift.min(count, range.upperBound) / page * page
        if hi > lo { _ = madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, MADV_DONTNEED) }
    }
}

/// A safetensors file opened for reading: the header is validated, the data stays on disk,
/// mapped, and each tensor is read lazily (a 10 GB file opens without being read).
///
/// Validation, each failure a `TensorFileError` naming the file, the tensor and the rule,
/// raised before any allocation larger than the file: file ≥ 8 bytes; not another format
/// (`.notSafetensors` when the length prefix cannot start a header — too large, past the end,
/// or not followed by `{` — and the first bytes are a .npy, zip, gzip, pickle, HDF5, GGUF or
/// IDX signature or text); header length
/// ≤ 100 000 000 and ≤ file size − 8; the header is UTF-8 JSON, an object; `__metadata__`, if
/// present, an object of strings; each other entry an object with `dtype` (known), `shape`
/// (non-negative integers, element count and byte size overflow-checked) and `data_offsets`
/// (two integers, begin ≤ end, end − begin = count × dtype size); no name twice; sorted by
/// offset the entries tile the data section exactly (no gap, no overlap, nothing after the last).
/// This is the reference implementation's validation (`SafeTensors::read_metadata`/
/// `Metadata::validate`) plus the duplicate-name check the reference lacks (its issue 401).
public final class SafetensorsFile: @unchecked Sendable {
    /// The path as given.
    public let path: String
    /// The tensors, in data order (sorted by offset).
    public let tensors: [TensorLocation]
    /// `__metadata__` in file order, or nil when absent.
    public let metadata: [(String, String)]?
    /// The file size in bytes.
    public let fileSize: Int
    /// Absolute offset of the data section.
    public let dataStart: Int
    private let mapping: ReadMapping
    private let index: [String: Int]

    /// The largest header the reference implementation accepts (`MAX_HEADER_SIZE`).
    public static let maxHeaderLength = 100_000_000

    /// The most dimensions a shape may have: 64, numpy's limit (`NPY_MAXDIMS`). Stricter than
    /// the reference, which sets none; it bounds the memory a header can make the reader use.
    public static let maxRank = 64

    /// Opens and validates `path`.
    /// - Throws: `TensorFileError` (see the type's rules).
    public convenience init(path: String) throws {
        try self.init(path: path, mapping: ReadMapping(path: path))
    }

    /// Validates the bytes of `mapping` (a mapped file, or an in-memory copy for fuzzing);
    /// `path` names them in errors.
    init(path: String, mapping: ReadMapping) throws {
        self.path = path
        self.mapping = mapping
        fileSize = mapping.count
        let bytes = mapping.bytes
        func err(_ rule: TensorFileError.Rule, _ tensor: String? = nil, _ d: String) -> TensorFileError {
            TensorFileError(file: path, tensor: tensor, rule: rule, d)
        }
        guard fileSize >= 8 else { throw err(.truncated, nil, "file holds \(fileSize) bytes; the 8-byte header length is missing") }
        let n = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        // A file whose length prefix cannot start a safetensors header (too large, past the end,
        // or not followed by a JSON object) and whose first bytes are another format's signature
        // (a .npy file, a zip checkpoint, text, …) is named as that format, not as a bad length.
        let plausible = n <= UInt64(SafetensorsFile.maxHeaderLength) && n <= UInt64(fileSize - 8)
            && bytes[8..<(8 + Int(n))].first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) == UInt8(ascii: "{")
        if !plausible, let other = FileSignature.describe(bytes) {
            throw err(.notSafetensors, nil, "not a safetensors file: this is \(other); a safetensors file starts with an 8-byte little-endian header length and a JSON object")
        }
        guard n <= UInt64(SafetensorsFile.maxHeaderLength) else {
            throw err(.headerTooLarge, nil, "header length \(n) exceeds the limit of \(SafetensorsFile.maxHeaderLength) bytes")
        }
        guard n <= UInt64(fileSize - 8) else {
            throw err(.headerBeyondFile, nil, "header length \(n) exceeds the \(fileSize - 8) bytes after the length prefix")
        }
        let hlen = Int(n)
        dataStart = 8 + hlen
        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart])
        guard String(validating: header, as: UTF8.self) != nil else { throw err(.headerNotText, nil, "header is not valid UTF-8") }
        var meta: [(String, String)]? = nil
        var names = Set<String>()
        var locs: [TensorLocation] = []
        let start = dataStart, dataSize = fileSize - dataStart
        var r = JSONReader(header)
        do {
            guard r.peek() == UInt8(ascii: "{") else {
                throw err(.headerStructure, nil, "header is a JSON \(r.nextTypeName()), not an object")
            }
            try r.forEachMember(depth: 0) { r, name in
                guard names.insert(name).inserted else { throw err(.duplicateName, name, "the name occurs more than once in the header") }
                if name == "__metadata__" {
                    guard r.peek() == UInt8(ascii: "{") else {
                        throw err(.invalidMetadata, nil, "__metadata__ is a JSON \(r.nextTypeName()), not an object of strings")
                    }
                    var pairs: [(String, String)] = []
                    var keys = Set<String>()
                    try r.forEachMember(depth: 1) { r, k in
                        guard r.peek() == UInt8(ascii: "\"") else {
                            throw err(.invalidMetadata, nil, "__metadata__['\(k)'] is a JSON \(r.nextTypeName()), not a string")
                        }
                        guard keys.insert(k).inserted else { throw err(.invalidMetadata, nil, "__metadata__ key '\(k)' occurs twice") }
                        pairs.append((k, try r.string()))
                    }
                    meta = pairs
                    return
                }
                guard r.peek() == UInt8(ascii: "{") else { throw err(.headerStructure, name, "entry is a JSON \(r.nextTypeName()), not an object") }
                var dtypeText: String?, shape: [Int]?, offsets: [Int]?
                var fieldNames = Set<String>()
                try r.forEachMember(depth: 1) { r, k in
                    guard fieldNames.insert(k).inserted else { throw err(.headerStructure, name, "field '\(k)' occurs twice") }
                    switch k {
                    case "dtype":
                        guard r.peek() == UInt8(ascii: "\"") else { throw err(.unknownDtype, name, "dtype is a JSON \(r.nextTypeName()), not a string") }
                        dtypeText = try r.string()
                    case "shape":
                        guard r.peek() == UInt8(ascii: "[") else { throw err(.invalidShape, name, "shape is a JSON \(r.nextTypeName()), not an array") }
                        var dims: [Int] = []
                        try r.forEachElement(depth: 2) { r in
                            guard r.nextTypeName() == "number" else { throw err(.invalidShape, name, "shape entry is a JSON \(r.nextTypeName()), not an integer") }
                            let (v, text) = try r.nonNegativeInt()
                            guard let v else { throw err(.invalidShape, name, "shape entry \(text) is not a non-negative integer that fits Int") }
                            guard dims.count < SafetensorsFile.maxRank else {
                                throw err(.invalidShape, name, "shape has more than \(SafetensorsFile.maxRank) dimensions")
                            }
                            dims.append(v)
                        }
                        shape = dims
                    case "data_offsets":
                        guard r.peek() == UInt8(ascii: "[") else { throw err(.invalidOffsets, name, "data_offsets is a JSON \(r.nextTypeName()), not an array") }
                        var offs: [Int] = []
                        try r.forEachElement(depth: 2) { r in
                            guard r.nextTypeName() == "number" else { throw err(.invalidOffsets, name, "data_offsets entry is a JSON \(r.nextTypeName()), not an integer") }
                            let (v, text) = try r.nonNegativeInt()
                            guard let v else { throw err(.invalidOffsets, name, "data_offsets entry \(text) is not a non-negative integer that fits Int") }
                            guard offs.count < 2 else { throw err(.invalidOffsets, name, "data_offsets has more than two entries") }
                            offs.append(v)
                        }
                        offsets = offs
                    default:
                        try r.skipValue(depth: 2) // the reference (serde without deny_unknown_fields) ignores other fields
                    }
                }
                guard let dtypeText else { throw err(.headerStructure, name, "missing field 'dtype'") }
                guard let shape else { throw err(.headerStructure, name, "missing field 'shape'") }
                guard let offsets else { throw err(.headerStructure, name, "missing field 'data_offsets'") }
                guard let dtype = DType(rawValue: dtypeText) else {
                    throw err(.unknownDtype, name, "dtype \"\(dtypeText)\" is not one of \(DType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                guard let count = checkedCount(shape) else { throw err(.countOverflow, name, "element count of shape \(shape) overflows Int") }
                let (bytesNeeded, o) = count.multipliedReportingOverflow(by: dtype.size)
                guard !o else { throw err(.countOverflow, name, "\(count) elements × \(dtype.size) bytes overflows Int") }
                guard offsets.count == 2 else { throw err(.invalidOffsets, name, "data_offsets must be [begin, end], got \(offsets.count) entries") }
                let b = offsets[0], e = offsets[1]
                guard b <= e else { throw err(.invalidOffsets, name, "data_offsets [\(b), \(e)]: begin > end") }
                guard e - b == bytesNeeded else {
                    throw err(.byteLengthMismatch, name, "data_offsets [\(b), \(e)] hold \(e - b) bytes; shape \(shape) of \(dtype) needs \(bytesNeeded)")
                }
                guard e <= dataSize else {
                    throw err(.dataSizeMismatch, name, "data_offsets [\(b), \(e)] end beyond the data section's \(dataSize) bytes")
                }
                locs.append(TensorLocation(spec: TensorSpec(name: name, dtype: dtype, shape: shape), count: count,
                                           dataOffset: b, byteCount: bytesNeeded, fileOffset: start + b))
            }
            try r.expectEnd()
        } catch let e as JSONSyntaxError {
            throw err(.headerSyntax, nil, "invalid JSON at header byte \(e.offset): \(e.message)")
        }
        // Offsets are data-section relative; ties (zero-size tensors) keep header order.
        locs = locs.enumerated().sorted { x, y in
            (x.element.dataOffset, x.element.dataOffset + x.element.byteCount, x.offset) <
                (y.element.dataOffset, y.element.dataOffset + y.element.byteCount, y.offset)
        }.map(\.element)
        var end = 0
        for l in locs {
            if l.dataOffset > end { throw err(.gap, l.name, "starts at data byte \(l.dataOffset); the previous tensor ends at \(end) (\(l.dataOffset - end) unused bytes)") }
            if l.dataOffset < end { throw err(.overlap, l.name, "starts at data byte \(l.dataOffset), inside the previous tensor (which ends at \(end))") }
            end = l.dataOffset + l.byteCount
        }
        guard end == dataSize else {
            throw err(.dataSizeMismatch, locs.last?.name, end < dataSize
                      ? "tensors end at data byte \(end); the file's data section has \(dataSize) bytes (\(dataSize - end) trailing bytes)"
                      : "tensors end at data byte \(end), beyond the data section's \(dataSize) bytes")
        }
        tensors = locs
        metadata = meta
        var idx: [String: Int] = [:]
        for (i, t) in locs.enumerated() { idx[t.name] = i }
        index = idx
    }

    /// The names in data order.
    public var names: [String] { tensors.map(\.name) }

    /// The tensor called `name`, or nil.
    public func location(of name: String) -> TensorLocation? { index[name].map { tensors[$0] } }

    private func require(_ name: String) throws -> TensorLocation {
        guard let l = location(of: name) else {
            throw TensorFileError(file: path, tensor: name, rule: .tensorNotFound, "the file has no tensor of this name")
        }
        return l
    }

    /// Calls `body` with the tensor's raw bytes, straight from the mapping (no copy; pages are
    /// read from disk as touched). The pointer is valid only inside `body`.
    public func withBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let l = try require(name)
        return try withExtendedLifetime(mapping) {
            try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[l.fileOffset..<(l.fileOffset + l.byteCount)]))
        }
    }

    /// Calls `body` with the tensor's raw bytes (see `withBytes(of:_:)`), by location.
    public func withBytes<R>(of location: TensorLocation, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(mapping) {
            try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[location.fileOffset..<(location.fileOffset + location.byteCount)]))
        }
    }

    /// Releases the resident pages of bytes `range` of the tensor at `location` (offsets
    /// relative to the tensor, as `TensorSummary.of(_:dtype:threads:consumed:)` reports them):
    /// streaming readers call it so that reading a 10 GB file keeps a small resident set.
    /// The data stays readable (pages are read again from the file when touched).
    public func releasePages(of location: TensorLocation, _ range: Range<Int>) {
        mapping.releasePages((location.fileOffset + range.lowerBound)..<(location.fileOffset + range.upperBound))
    }

    /// The tensor's values converted to Float (F32 exact, F16/BF16 exact, F64 rounded).
    /// Allocates count × 4 bytes, at most the tensor's byte size × 2 (F16/BF16).
    /// - Throws: `.tensorNotFound`; `.mismatch` for a non-floating-point dtype.
    public func floats(_ name: String) throws -> [Float] {
        let l = try require(name)
        guard l.dtype.isFloatingPoint else {
            throw TensorFileError(file: path, tensor: name, rule: .mismatch, "dtype \(l.dtype) is not floating point; read it with withBytes(of:)")
        }
        return withBytes(of: l) { b in
            [Float](unsafeUninitializedCapacity: l.count) { out, n in
                if l.dtype == .F32, l.count > 0 {
                    UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: b.baseAddress!, byteCount: l.byteCount)
                } else if let p = b.baseAddress {
                    for i in 0..<l.count { out[i] = Float(TensorConvert.double(p, i, l.dtype)) }
                }
                n = l.count
            }
        }
    }

    /// The tensor's values converted to Double (exact for every floating-point dtype).
    public func doubles(_ name: String) throws -> [Double] {
        let l = try require(name)
        guard l.dtype.isFloatingPoint else {
            throw TensorFileError(file: path, tensor: name, rule: .mismatch, "dtype \(l.dtype) is not floating point; read it with withBytes(of:)")
        }
        return withBytes(of: l) { b in
            guard let p = b.baseAddress else { return [] }
            return (0..<l.count).map { TensorConvert.double(p, $0, l.dtype) }
        }
    }
}
