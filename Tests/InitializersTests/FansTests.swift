// Fans: fan_in / fan_out / receptive field for every layout, groups and errors (C01, C02, C04, C05).
import Foundation
import Testing
import Initializers

@Suite("Fans")
struct FansTests {
    /// (shape, layout, groups, fanIn, fanOut, receptive field), worked out by hand from the definitions.
    static let cases: [([Int], KernelLayout, Int, Int, Int, Int)] = [
        ([784, 256], .spatialInOut, 1, 784, 256, 1),            // C01 dense in-out
        ([256, 784], .outInSpatial, 1, 784, 256, 1),            // C01 dense out-in
        ([256, 784], .dense, 1, 784, 256, 1),
        ([784, 256], .denseInOut, 1, 784, 256, 1),
        ([32, 16, 3, 3], .outInSpatial, 1, 144, 288, 9),        // C02 OIHW
        ([3, 3, 1, 16], .spatialInOut, 1, 9, 144, 9),           // C02 HWIO
        ([3, 16, 32], .spatialInOut, 1, 48, 96, 3),             // C02 Conv1D channels_last
        ([3, 3, 3, 8, 16], .spatialInOut, 1, 216, 432, 27),     // C02 Conv3D channels_last
        ([4, 1, 3, 3], .outInSpatial, 4, 9, 9, 9),              // C04 depthwise, group-aware
        ([4, 1, 3, 3], .outInSpatial, 1, 9, 36, 9),             // C04 shape-only
        ([64, 8, 3], .outInSpatial, 8, 24, 24, 3),              // C04 grouped Conv1d
        ([64, 8, 3, 3], .outInSpatial, 8, 72, 72, 9),           // C04 grouped Conv2d
        ([2, 2, 1], .outInSpatial, 1, 2, 2, 1),                 // C05
        ([8, 4, 5], .outInSpatial, 1, 20, 40, 5),               // C05
        ([16, 8, 3, 3], .inOutSpatialTransposed, 1, 72, 144, 9), // PyTorch ConvTranspose [in, out, k, k]: fan_in from axis 1
        ([3, 3, 8, 16], .spatialOutInTransposed, 1, 72, 144, 9), // Keras Conv2DTranspose [k, k, out, in]
        ([5, 7, 2, 3], .axes(inAxis: 1, outAxis: 3), 1, 70, 30, 10),
        ([5, 7, 2, 3], .axes(inAxis: -1, outAxis: 0), 1, 42, 70, 14),
        ([5, 7, 2, 3], .axes(inAxis: 2, outAxis: -3), 7, 30, 15, 15),
        ([0, 5], .outInSpatial, 1, 5, 0, 1),
        ([3, 4, 0], .outInSpatial, 1, 0, 0, 0),
    ]

    @Test("fans of hand-worked shapes and layouts", arguments: 0..<cases.count)
    func table(_ i: Int) throws {
        let (shape, layout, groups, fi, fo, r) = Self.cases[i]
        let f = try Fans(shape: shape, layout: layout, groups: groups)
        #expect(f.fanIn == fi && f.fanOut == fo && f.receptiveField == r, "\(shape) \(layout) groups \(groups): \(f)")
        #expect(f == Fans(fanIn: fi, fanOut: fo, receptiveField: r))
    }

    @Test("C02/C04 scale consequences: glorot bounds and the grouped-conv ratio √8")
    func bounds() throws {
        func glorot(_ f: Fans) -> Double { (6 / Double(f.fanIn + f.fanOut)).squareRoot() }
        #expect(abs(glorot(try Fans(shape: [32, 16, 3, 3])) - 0.117851) < 1e-6)
        #expect(abs(glorot(try Fans(shape: [3, 3, 1, 16], layout: .spatialInOut)) - 0.198030) < 1e-6)
        #expect(abs(glorot(try Fans(shape: [3, 16, 32], layout: .spatialInOut)) - 0.204124) < 1e-6)
        #expect(abs(glorot(try Fans(shape: [2, 2, 1])) - 1.224745) < 1e-6)
        #expect(abs(glorot(try Fans(shape: [8, 4, 5])) - 0.316228) < 1e-6)
        let grouped = try Fans(shape: [64, 8, 3], groups: 8)
        let buggy = Fans(fanIn: 64 * 3, fanOut: 64 * 3)
        let ratio = (1 / Double(grouped.fanIn).squareRoot()) / (1 / Double(buggy.fanIn).squareRoot())
        #expect(abs(ratio - 8.0.squareRoot()) < 1e-12 && abs(ratio - 2.83) < 0.005)
    }

    @Test("value(for:) selects fan_in, fan_out, their mean and geometric mean")
    func modes() {
        let f = Fans(fanIn: 8, fanOut: 18)
        #expect(f.value(for: .fanIn) == 8 && f.value(for: .fanOut) == 18)
        #expect(f.value(for: .fanAverage) == 13 && f.value(for: .fanGeometricAverage) == 12)
        #expect(FanMode.allCases.map(\.rawValue) == ["fan-in", "fan-out", "fan-avg", "fan-geo-avg"])
        #expect(Fans(fanIn: 1, fanOut: 2).receptiveField == 1)
        #expect(f.description == "Fans(fanIn: 8, fanOut: 18, receptiveField: 1)")
    }

    @Test("errors: fewer than 2 dimensions, negative sizes, bad groups, bad axes")
    func errors() {
        for shape in [[10], []] {
            #expect(throws: InitializationError.tooFewDimensions(scheme: "fans", shape: shape)) { try Fans(shape: shape) }
        }
        let bad: [([Int], KernelLayout, Int)] = [
            ([-1, 4], .outInSpatial, 1), ([4, 4, -3], .outInSpatial, 1),
            ([4, 4], .outInSpatial, 0), ([4, 4], .outInSpatial, -2),
            ([6, 4, 3], .outInSpatial, 4),                       // 4 does not divide 6 output channels
            ([3, 3, 4, 6], .spatialInOut, 4),
            ([4, 4], .axes(inAxis: 0, outAxis: 0), 1), ([4, 4], .axes(inAxis: 2, outAxis: 0), 1),
            ([4, 4], .axes(inAxis: -3, outAxis: 0), 1), ([4, 4, 2], .axes(inAxis: -1, outAxis: 2), 1),
        ]
        for (shape, layout, groups) in bad {
            let e = initError { _ = try Fans(shape: shape, layout: layout, groups: groups) }
            if case .invalidParameter? = e {} else { Issue.record("\(shape) \(layout) groups \(groups): \(String(describing: e))") }
        }
        // The receptive field Int.max·4 overflows: a size error naming the shape (issue 13).
        let e = initError { _ = try Fans(shape: [Int.max, 2, Int.max, 4]) }
        if case .size(.overflow)? = e {} else { Issue.record("receptive field overflow: \(String(describing: e))") }
    }

    @Test("Fans and KernelLayout are Codable")
    func codable() throws {
        let f = try Fans(shape: [3, 3, 8, 16], layout: .spatialInOut)
        let data = try JSONEncoder().encode(f)
        #expect(try JSONDecoder().decode(Fans.self, from: data) == f)
        for l: KernelLayout in [.outInSpatial, .spatialInOut, .inOutSpatialTransposed, .spatialOutInTransposed, .axes(inAxis: -1, outAxis: 0)] {
            #expect(try JSONDecoder().decode(KernelLayout.self, from: JSONEncoder().encode(l)) == l)
        }
    }
}
