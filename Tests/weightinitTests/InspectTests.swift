import Foundation
import Testing
@testable import weightinit
import WeightInit

// Oracles: the closed-form std of each scheme for the tensor's fans (He √(2/fan_in), Xavier
// √(2/(fan_in+fan_out)), PyTorch default 1/√(3·fan_in)); a naive loop over the values written;
// tolerance from the sampling error of a std, ≈ 1/√(2n) relative (5σ).

/// Mean, population std, min and max of the finite values by a naive two-pass loop.
func naiveStats(_ xs: [Double]) -> (mean: Double, std: Double, min: Double, max: Double) {
    let mean = xs.reduce(0, +) / Double(xs.count)
    let v = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count)
    return (mean, v.squareRoot(), xs.min()!, xs.max()!)
}

@Suite("weightinit inspect")
struct InspectTests {
    /// Deterministic N(0, 1) (Box–Muller on an LCG) and U(−1, 1) samples.
    static func samples(_ n: Int, uniform: Bool, seed: UInt64) -> [Float] {
        var s = seed
        func u() -> Double { s = s &* 6364136223846793005 &+ 1442695040888963407; return (Double(s >> 11) + 0.5) * 0x1p-53 }
        return (0..<n).map { _ in uniform ? Float(2 * u() - 1) : Float((-2 * log(u())).squareRoot() * cos(2 * .pi * u())) }
    }

    @Test("closest scheme and statistics of He, Xavier and PyTorch-default weights; --strict on NaN")
    func closestScheme() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inspect-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let he = Self.samples(256 * 784, uniform: false, seed: 1).map { $0 * Float((2.0 / 784).squareRoot()) }
        let xavier = Self.samples(400 * 300, uniform: false, seed: 2).map { $0 * Float((2.0 / 700).squareRoot()) }
        let torch = Self.samples(64 * 32 * 3 * 3, uniform: true, seed: 3).map { $0 / Float((32.0 * 9).squareRoot()) }
        let p = dir + "/m.safetensors"
        try SafetensorsWriter.write(path: p, tensors: [
            (name: "fc1.weight", dtype: .F32, shape: [256, 784], values: he),
            (name: "x.weight", dtype: .F32, shape: [400, 300], values: xavier),
            (name: "conv.weight", dtype: .F32, shape: [64, 32, 3, 3], values: torch),
            (name: "fc1.bias", dtype: .F32, shape: [256], values: [Float](repeating: 0, count: 256)),
        ])
        let (status, out, err) = try runTool(["inspect", p, "--json"])
        #expect(status == 0, "\(err)")
        let j = try json(out)
        let tensors = try #require(j["tensors"] as? [[String: Any]])
        func t(_ name: String) throws -> [String: Any] { try #require(tensors.first { $0["name"] as? String == name }) }
        let cases: [(String, [Float], String, Double, Int, Int)] = [
            ("fc1.weight", he, "he-normal", (2.0 / 784).squareRoot(), 784, 256),
            ("x.weight", xavier, "xavier-normal", (2.0 / 700).squareRoot(), 300, 400),
            ("conv.weight", torch, "pytorch-default", 1 / (3.0 * 288).squareRoot(), 288, 576),
        ]
        for (name, values, scheme, std, fanIn, fanOut) in cases {
            let r = try t(name)
            let naive = naiveStats(values.map(Double.init))
            let got = try #require(r["std"] as? Double)
            #expect(abs(got / naive.std - 1) < 1e-9, "\(name): std \(got) vs naive \(naive.std)")
            #expect(abs((r["mean"] as? Double ?? .nan) - naive.mean) < 1e-9)
            // JSON text round trip: equal to 1e-12 relative.
            #expect(abs((r["min"] as? Double ?? .nan) / naive.min - 1) < 1e-12 && abs((r["max"] as? Double ?? .nan) / naive.max - 1) < 1e-12)
            #expect(r["closest_scheme"] as? String == scheme, "\(name): \(String(describing: r["closest_scheme"]))")
            #expect(r["fan_in"] as? Int == fanIn && r["fan_out"] as? Int == fanOut)
            let tol = 5 / (2 * Double(values.count)).squareRoot()
            let ratio = try #require(r["ratio"] as? Double)
            print("\(name): std \(got), expected \(std) (\(scheme)), ratio \(ratio), tolerance \(tol)")
            #expect(abs(ratio - 1) < tol)
            #expect(abs(got / std - 1) < tol)
        }
        let bias = try t("fc1.bias")
        #expect(bias["all_zero"] as? Bool == true && bias["fan_in"] is NSNull)
        #expect(j["nonfinite_tensors"] as? Int == 0)
        let (s2, _, _) = try runTool(["inspect", p, "--strict"])
        #expect(s2 == 0)

        let bad = dir + "/nan.npy"
        try Npy.write(path: bad, shape: [2, 2], floats: [1, .nan, .infinity, 2])
        let (s3, out3, _) = try runTool(["inspect", bad, "--json", "--strict"])
        #expect(s3 == 1)
        let r3 = try #require((try json(out3)["tensors"] as? [[String: Any]])?.first)
        #expect(r3["nan_count"] as? Int == 1 && r3["inf_count"] as? Int == 1 && r3["mean"] as? Double == 1.5)
        let (s4, _, _) = try runTool(["inspect", bad])
        #expect(s4 == 0, "without --strict NaN is reported, not an error")

        // A malformed file: exit 1, the rule named on stderr; with --json stdout holds only the failure
        // object of the CLI contract ({"completed", "error", "exit_code"}).
        let mal = dir + "/bad.safetensors"
        try Data([255, 255, 255, 255, 255, 255, 255, 127]).write(to: URL(fileURLWithPath: mal))
        let (s5, out5, err5) = try runTool(["inspect", mal, "--json"])
        #expect(s5 == 1 && err5.contains("headerTooLarge"), "\(err5)")
        let failure = try JSONSerialization.jsonObject(with: Data(out5.utf8)) as? [String: Any]
        #expect(failure?["exit_code"] as? Int == 1, "stdout: \(out5)")
    }
}
