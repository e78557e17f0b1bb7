#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A size computation that would overflow `Int`, a negative size, or a request larger than the
/// memory this process may use.
///
/// Every size that comes from outside (shapes, layer widths, batch sizes, epochs, file headers)
/// goes through `CheckedSize` before anything is allocated, so an absurd size is a typed error
/// naming the request, never an arithmetic trap or an OOM kill.
public enum SizeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A dimension or count below zero.
    case negative(what: String, value: Int)
    /// The product (or sum) of `factors` does not fit in `Int`; `elementBytes` is the element
    /// size when a byte count was being computed.
    case overflow(what: String, factors: [Int], elementBytes: Int?)
    /// The estimate (bytes) exceeds the memory available to this process (bytes), as read from
    /// `/proc/meminfo` (`MemAvailable`), the cgroup limit and the process limits
    /// (`RLIMIT_AS`, `RLIMIT_DATA`, as set by `ulimit -v` / `ulimit -d`).
    case insufficientMemory(what: String, estimateBytes: Int, availableBytes: Int)

    public var description: String {
        switch self {
        case let .negative(what, value):
            return "\(what) = \(value) is invalid: must be ≥ 0"
        case let .overflow(what, factors, elementBytes):
            let product = factors.map { "\($0)" }.joined(separator: " × ") + (elementBytes.map { " × \($0) bytes" } ?? "")
            return "\(what): \(product) does not fit in a 64-bit count (more than \(Int.max))"
        case let .insufficientMemory(what, estimate, available):
            return "\(what) needs about \(CheckedSize.describeBytes(estimate)), but only \(CheckedSize.describeBytes(available)) of memory is available to this process (MemAvailable, the cgroup limit and the process limits ulimit -v / -d); use smaller sizes"
        }
    }
}

/// Overflow-checked element and byte counts, and the memory available to this process.
///
/// ```swift
/// let n = try CheckedSize.elementCount([256, 784], what: "weight")        // 200 704
/// let bytes = try CheckedSize.byteCount([1 << 40, 1 << 30], elementBytes: 4, what: "matrix")  // throws .overflow
/// ```
public enum CheckedSize {
    /// The product of `dimensions` (1 for an empty list; 0 when any dimension is 0, however large
    /// the others are).
    /// - Throws: `SizeError.negative` for a dimension < 0, `.overflow` when the product exceeds `Int.max`.
    public static func elementCount(_ dimensions: [Int], what: String) throws(SizeError) -> Int {
        for d in dimensions where d < 0 { throw .negative(what: what, value: d) }
        // A zero dimension gives 0 elements whatever the others ([2^62, 4, 0] is empty, as in numpy).
        if dimensions.contains(0) { return 0 }
        var total = 1
        for d in dimensions {
            let (p, o) = total.multipliedReportingOverflow(by: d)
            guard !o else { throw .overflow(what: what, factors: dimensions, elementBytes: nil) }
            total = p
        }
        return total
    }

    /// `elementCount(dimensions) × elementBytes`.
    /// - Throws: as `elementCount`, and `.overflow` when the byte count exceeds `Int.max`.
    public static func byteCount(_ dimensions: [Int], elementBytes: Int, what: String) throws(SizeError) -> Int {
        let n = try elementCount(dimensions, what: what)
        let (b, o) = n.multipliedReportingOverflow(by: elementBytes)
        guard !o else { throw .overflow(what: what, factors: dimensions, elementBytes: elementBytes) }
        return b
    }

    /// The sum of non-negative `terms`. - Throws: `.negative`, `.overflow`.
    public static func sum(_ terms: [Int], what: String) throws(SizeError) -> Int {
        var total = 0
        for t in terms {
            guard t >= 0 else { throw .negative(what: what, value: t) }
            let (s, o) = total.addingReportingOverflow(t)
            guard !o else { throw .overflow(what: what, factors: terms, elementBytes: nil) }
            total = s
        }
        return total
    }

    /// `a × b` for non-negative operands. - Throws: `.negative`, `.overflow`.
    public static func product(_ a: Int, _ b: Int, what: String) throws(SizeError) -> Int {
        try elementCount([a, b], what: what)
    }

    /// Bytes this process may still allocate: the smaller of `MemAvailable` in `/proc/meminfo`
    /// and the cgroup v2 (`memory.max − memory.current`) or v1 (`memory.limit_in_bytes −
    /// memory.usage_in_bytes`) headroom, and the process resource limits: `RLIMIT_AS` (`ulimit -v`)
    /// minus the current `VmSize` and `RLIMIT_DATA` (`ulimit -d`) minus the current `VmData`
    /// (both from `/proc/self/status`; an unlimited limit is ignored). `nil` when none of them can
    /// be read (not Linux).
    /// The environment variable `WEIGHTINIT_MEMORY_LIMIT` (bytes) lowers it further (tests).
    public static func availableMemory() -> Int? {
        var candidates: [Int] = []
        if let text = readSmallFile("/proc/meminfo") {
            for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count >= 2, let kb = Int(fields[1]), kb >= 0 { candidates.append(kb.multipliedReportingOverflow(by: 1024).overflow ? Int.max : kb * 1024) }
            }
        }
        func headroom(_ limitPath: String, _ usagePath: String) {
            guard let l = readSmallFile(limitPath)?.split(separator: "\n").first, let limit = Int(l) else { return }   // "max" → no limit
            let usage = readSmallFile(usagePath)?.split(separator: "\n").first.flatMap { Int($0) } ?? 0
            if limit < (1 << 60) { candidates.append(max(0, limit - usage)) }
        }
        headroom("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current")
        headroom("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")
        #if os(Linux)
        // Process limits: an allocation past RLIMIT_AS / RLIMIT_DATA fails (malloc returns NULL
        // and Swift traps), so the headroom under each limit counts as available memory.
        let status = readSmallFile("/proc/self/status")
        func statusBytes(_ key: String) -> Int? {
            guard let status else { return nil }
            for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count >= 2, let kb = Int(fields[1]), kb >= 0 { return kb.multipliedReportingOverflow(by: 1024).overflow ? Int.max : kb * 1024 }
            }
            return nil
        }
        func processHeadroom(_ resource: __rlimit_resource_t, _ usageKey: String) {
            var limit = rlimit()
            guard getrlimit(resource, &limit) == 0, limit.rlim_cur < (1 << 62) else { return }   // RLIM_INFINITY is all ones
            let usage = statusBytes(usageKey) ?? 0
            candidates.append(max(0, Int(limit.rlim_cur) - usage))
        }
        processHeadroom(__rlimit_resource_t(RLIMIT_AS.rawValue), "VmSize")
        processHeadroom(__rlimit_resource_t(RLIMIT_DATA.rawValue), "VmData")
        #endif
        if let env = getenv("WEIGHTINIT_MEMORY_LIMIT"), let v = Int(String(cString: env)), v >= 0 { candidates.append(v) }
        return candidates.min()
    }

    /// Refuses `estimateBytes` when it exceeds `availableMemory()` (no check when that is unknown).
    /// - Throws: `SizeError.insufficientMemory` naming `what`, the estimate and the available memory.
    public static func requireMemory(_ estimateBytes: Int, what: String) throws(SizeError) {
        guard let available = availableMemory(), estimateBytes > available else { return }
        throw .insufficientMemory(what: what, estimateBytes: estimateBytes, availableBytes: available)
    }

    /// `1.5 GiB`, `12.0 MiB`, `512 B`.
    public static func describeBytes(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(bytes), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(bytes) B" }
        let s = (v * 10).rounded() / 10
        return "\(s) \(units[u])"
    }

    /// A parameter value as users wrote it: integers without a fractional part (`128`, not
    /// `128.0`), other values as Swift prints them (`nan`, `inf`, `0.5`, `1e+200`).
    public static func describeValue(_ v: Double) -> String {
        if v.isFinite, v == v.rounded(), abs(v) < 9.007_199_254_740_992e15 { return "\(Int64(v))" }
        return "\(v)"
    }

    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 8192)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: bytes[0..<n], as: UTF8.self)
    }
}
