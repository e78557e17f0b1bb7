import Distributed
import Foundation
import Testing

@Suite("Communicator")
struct CommunicatorTests {
    @Test("LocalCommunicator: world of one; reductions and broadcasts leave buffers as they are; allGatherV copies")
    func local() throws {
        let c = LocalCommunicator()
        #expect(c.rank == 0 && c.size == 1 && c.isRoot)
        try c.barrier()
        var f: [Float] = [1.5, -2, .infinity]
        try c.allReduce(&f, .sum)
        #expect(f == [1.5, -2, .infinity])
        #expect(try c.allReduce(UInt64(7), .max) == 7)
        var b: [UInt8] = [1, 2, 3]
        try c.broadcast(&b, root: 0)
        #expect(b == [1, 2, 3])
        #expect(try c.allGatherV([4, 5, 6] as [Int64], counts: [3]) == [4, 5, 6])
        #expect(try c.allGather(Double(2.5)) == [2.5])
        try c.requireIdentical(42, what: "anything")
    }

    @Test("LocalCommunicator: a root or counts that break the rules throw typed errors naming them")
    func localErrors() throws {
        let c = LocalCommunicator()
        var b: [UInt8] = [1]
        #expect(throws: DistributedError.self) { try c.broadcast(&b, root: 1) }
        #expect(throws: DistributedError.self) { _ = try c.allGatherV([1, 2] as [Int32], counts: [3]) }
        #expect(throws: DistributedError.self) { _ = try c.allGatherV([1, 2] as [Int32], counts: [2, 0]) }
        #expect(throws: DistributedError.self) { _ = try c.allGatherV([1, 2] as [Int32], counts: [-1]) }
        do { try c.broadcast(&b, root: 3) } catch { #expect(error.description.contains("root 3")) }
    }

    @Test("RowPartition: [⌊r·R/N⌋, ⌊(r+1)·R/N⌋) covers every row once, in order, sizes within one; N > R leaves ranks empty")
    func partition() {
        for total in [0, 1, 2, 3, 7, 10, 13, 1000, 1001] {
            for n in 1...9 {
                let ranges = (0..<n).map { RowPartition.rows(total, rank: $0, worldSize: n) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == total)
                for r in 1..<n { #expect(ranges[r].lowerBound == ranges[r - 1].upperBound) }
                let sizes = ranges.map(\.count)
                #expect(sizes.max()! - sizes.min()! <= 1, "sizes \(sizes)")
                #expect(sizes == RowPartition.counts(total, worldSize: n))
                for r in 0..<n { #expect(ranges[r].lowerBound == r * total / n) }    // the formula, by naive integer division
            }
        }
        // 128-bit products: no overflow for the largest row counts.
        let big = Int.max - 5
        let r = RowPartition.rows(big, rank: 6, worldSize: 7)
        #expect(r.upperBound == big)
        #expect(r.lowerBound == 6 * (big / 7) + 6 * (big % 7) / 7)      // ⌊6·big/7⌋ without forming 6·big
        #expect(RowPartition.counts(big, worldSize: 7).reduce(0, &+) == big)
    }

    @Test("Launch detection: OMPI_COMM_WORLD_SIZE or PMIX_RANK means an MPI launcher; otherwise the local communicator")
    func launch() throws {
        #expect(DistributedLaunch.isLaunchedByMPI(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        #expect(DistributedLaunch.isLaunchedByMPI(environment: ["PMIX_RANK": "0"]))
        #expect(!DistributedLaunch.isLaunchedByMPI(environment: ["PATH": "/usr/bin"]))
        let c = try DistributedLaunch.communicator(requested: true, environment: [:])
        #expect(c is LocalCommunicator)
    }
}

extension MPISuite {
    @Suite("collectives")
    struct Collectives {
        @Test("all-reduce (Float, Double, UInt64 max, Int64 min), broadcast, allgather(v) against closed forms for N = 2, 3, 4; the same chunked in 7-element messages",
              arguments: [2, 3, 4])
        func collectives(n: Int) throws {
            guard mpiAvailable("collectives N=\(n)") else { return }
            let r = try mpirun(n, try builtExecutable("DistributedHarness"), ["collectives"], timeout: 60)
            #expect(r.status == 0 && !r.timedOut, "stderr: \(r.stderr)")
            let o = try jsonObject(r.stdout)
            #expect(o["world_size"] as? Int == n)
            #expect(o["ok"] as? Bool == true, "checks: \(o["checks"] ?? "none")")
            print("collectives N=\(n): \((o["checks"] as? [String: Bool])?.filter { $0.value }.keys.sorted() ?? []) in \(String(format: "%.2f", r.seconds)) s")
        }
    }
}
