import Foundation
import Testing
@testable import weightinit
import WeightInit
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Runs the built `weightinit` binary (debug build next to the test bundle) and returns
/// (exit status, stdout, stderr).
func runTool(_ args: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let candidates = [Bundle.main.bundleURL.appendingPathComponent("weightinit"),
                      Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("weightinit"),
                      root.appendingPathComponent(".build/debug/weightinit")]
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates.map(\.path).joined(separator: ", ")])
    }
    let p = Process()
    p.executableURL = binary
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

func json(_ text: String) throws -> [String: Any] {
    let obj = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(obj as? [String: Any], "stdout is one JSON object: \(text.prefix(200))")
}

@Suite("weightinit command line")
struct CLITests {
    @Test("stats he-normal 256x784: fan_in 784, fan_out 256, std within 1% of √(2/784) = 0.050508")
    func statsHeNormal() throws {
        let (status, out, _) = try runTool(["stats", "--scheme", "he-normal", "--shape", "256x784", "--json"])
        #expect(status == 0)
        let j = try json(out)
        #expect(j["fan_in"] as? Int == 784)
        #expect(j["fan_out"] as? Int == 256)
        let std = try #require(j["std"] as? Double)
        let target = (2.0 / 784).squareRoot()
        print("observed std \(std), target \(target)")
        #expect(abs(std / target - 1) < 0.01)
        for key in ["scheme", "shape", "count", "mean", "min", "max", "expected_std", "bound", "checksum", "seconds"] {
            #expect(j.keys.contains(key), "missing key \(key)")
        }
        #expect(j["bound"] is NSNull, "he-normal is unbounded: bound must be null")
    }

    @Test("checksums are equal for --threads 1, 2 and 8", arguments: ["he-normal", "uniform", "truncated-normal", "sparse"])
    func checksumsAcrossThreads(scheme: String) throws {
        var sums: Set<String> = []
        for t in ["1", "2", "8"] {
            var args = ["stats", "--scheme", scheme, "--shape", "300x257", "--threads", t, "--json", "--seed", "7"]
            if scheme == "sparse" { args += ["--sparsity", "0.3"] }
            let (status, out, err) = try runTool(args)
            #expect(status == 0, "\(err)")
            sums.insert(try #require(try json(out)["checksum"] as? String))
        }
        #expect(sums.count == 1, "checksums differ across threads: \(sums)")
    }

    @Test("orthogonal stats report orthogonality_error below 1e-5")
    func orthogonalStats() throws {
        let (status, out, _) = try runTool(["stats", "--scheme", "orthogonal", "--shape", "64x128", "--json"])
        #expect(status == 0)
        let e = try #require(try json(out)["orthogonality_error"] as? Double)
        #expect(e < 1e-5)
    }

    @Test("bad input exits non-zero with a message naming the value, never a crash",
          arguments: [["stats", "--scheme", "xavier_unifrom", "--shape", "3x3"],
                      ["stats", "--scheme", "normal", "--std", "-1", "--shape", "3x3"],
                      ["stats", "--scheme", "normal", "--std", "nan", "--shape", "3x3"],
                      ["stats", "--scheme", "xavier-uniform", "--shape", "10"],
                      ["stats", "--scheme", "uniform", "--low", "1", "--high", "0", "--shape", "4x4"],
                      ["stats", "--scheme", "he-normal", "--shape", "3xabc"],
                      ["stats", "--scheme", "sparse", "--sparsity", "1", "--shape", "4x4"],
                      ["stats", "--scheme", "he-normal", "--shape", "4x4", "--threads", "0"],
                      ["train", "--hidden", "12,-3", "--epochs", "1"],
                      ["train", "--data", "/nonexistent-dir", "--epochs", "1"],
                      ["compare", "--depth", "0"],
                      ["bench", "--only", "nothing"]])
    func badInput(args: [String]) throws {
        let (status, out, err) = try runTool(args)
        #expect(status != 0)
        #expect(status < 128, "exit status \(status) means a signal (crash)")
        #expect(!err.isEmpty, "an error message on stderr")
        #expect(out.isEmpty || !out.contains("{"), "no JSON on failure")
        print("\(args.joined(separator: " ")) → \(err.split(separator: "\n").first ?? "")")
    }

    @Test("error messages name the value the user gave",
          arguments: [(["stats", "--scheme", "he-normal", "--shape", "-3x4"], "--shape must be sizes"),
                      (["stats", "--scheme", "xavier-uniform", "--gain", "nan", "--shape", "4x4"], "gain"),
                      (["stats", "--scheme", "uniform", "--low", "1.00000001", "--high", "1.00000002", "--shape", "4x4"], "no Float value"),
                      (["stats", "--scheme", "truncated-normal", "--a", "38", "--b", "39", "--shape", "4x4"], "37.5σ")])
    func namedErrors(args: [String], expected: String) throws {
        let (status, _, err) = try runTool(args)
        #expect(status != 0 && status < 128)
        #expect(err.contains(expected), "\(args.joined(separator: " ")): \(err)")
    }

    @Test("stats notes options the scheme does not use; the table covers every scheme name")
    func ignoredOptions() throws {
        #expect(Set(Stats.usedOptions.keys) == Set(Initializer.schemeNames))
        let (status, out, err) = try runTool(["stats", "--scheme", "he-normal", "--shape", "4x4", "--sparsity", "0.3", "--a", "1", "--json"])
        #expect(status == 0 && out.contains("{"))
        #expect(err.contains("does not use --a, --sparsity"), "\(err)")
        let (_, _, quiet) = try runTool(["stats", "--scheme", "truncated-normal", "--shape", "4x4", "--a", "-1", "--b", "1", "--std", "0.5"])
        #expect(!quiet.contains("does not use"), "\(quiet)")
    }

    @Test("misspelled scheme lists the valid names")
    func misspelled() throws {
        let (_, _, err) = try runTool(["stats", "--scheme", "xavier_unifrom", "--shape", "3x3"])
        #expect(err.contains("xavier-uniform") && err.contains("he-normal"))
    }

    @Test("doctor --json has the contract keys")
    func doctor() throws {
        let (status, out, _) = try runTool(["doctor", "--json"])
        #expect(status == 0)
        let j = try json(out)
        for key in ["openblas_version", "core", "threads", "cpu_features", "kernel_ok", "advice"] { #expect(j.keys.contains(key), "missing \(key)") }
    }

    @Test("the tool re-launches itself once with OPENBLAS_CORETYPE when the kernel fell back, and never overrides a set value")
    func relaunch() throws {
        let (s1, o1, _) = try runTool(["doctor", "--json"], environment: ["WEIGHTINIT_SIMULATE_FALLBACK": "1"])
        #expect(s1 == 0)
        let j1 = try json(o1)
        if BLASBackend.kernelCheck().recommendedCore != nil {
            #expect(j1["relaunched"] as? Bool == true)
            #expect(j1["openblas_coretype"] as? String == BLASBackend.kernelCheck().recommendedCore)
        }
        let (s2, o2, _) = try runTool(["doctor", "--json"], environment: ["WEIGHTINIT_SIMULATE_FALLBACK": "1", "OPENBLAS_CORETYPE": "Haswell"])
        #expect(s2 == 0)
        let j2 = try json(o2)
        #expect(j2["relaunched"] as? Bool == false)
        #expect(j2["openblas_coretype"] as? String == "Haswell")
    }

    @Test("parseShape and parseHidden accept good input and reject bad input")
    func parsers() throws {
        #expect(try Stats.parseShape("256x784") == [256, 784])
        #expect(try Stats.parseShape("32x16x3x3") == [32, 16, 3, 3])
        #expect(throws: (any Error).self) { try Stats.parseShape("3x-1") }
        #expect(throws: (any Error).self) { try Stats.parseShape("100000x100000x100000") }
        #expect(try parseHidden("256,128") == [256, 128])
        #expect(throws: (any Error).self) { try parseHidden("256,,x") }
    }
}

/// Collects element names and fails on malformed XML.
final class SVGChecker: NSObject, XMLParserDelegate {
    var elements: [String] = []
    var texts: [String] = []
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        elements.append(name)
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { texts.append(string) }
}

@Suite("compare SVG")
struct SVGTests {
    func report() -> InitializationComparison.Report {
        let run1 = InitializationComparison.Run(scheme: "he-normal <&>", preactivationStd: [1, 0.9, 1.1], activationStd: [0.8, 0.7, 0.9], activationMean: [0.3, 0.3, 0.3],
                               saturatedFraction: [nil, nil, nil], deadFraction: [0, 0, 0.1], gradientNorm: [1, 2, 3], loss: [2.3, 1.5, 0.9],
                               lossSteps: [1, 2, 3], finalTrainLoss: 0.9, testAccuracy: 0.7, divergedAtStep: nil, seconds: 1)
        let run2 = InitializationComparison.Run(scheme: "normal:1", preactivationStd: [10, 1e10, .infinity], activationStd: [5, 1e12, .nan], activationMean: [0, 0, 0],
                               saturatedFraction: [nil, nil, nil], deadFraction: [0, 0, 0], gradientNorm: [0, 1e30, .infinity], loss: [],
                               lossSteps: [], finalTrainLoss: nil, testAccuracy: nil, divergedAtStep: 1, seconds: 0.1)
        return InitializationComparison.Report(runs: [run1, run2], architecture: .mlp, depth: 2, width: 4, activation: "relu", steps: 3, batchSize: 2,
                              learningRate: 0.1, optimizer: .sgd, seed: 0)
    }

    @Test("the plot is well-formed XML with three panels, a legend, and escaped labels, even with zeros, NaN and infinities")
    func wellFormed() throws {
        let svg = SVGPlot.compare(report: report())
        let parser = XMLParser(data: Data(svg.utf8))
        let checker = SVGChecker()
        parser.delegate = checker
        #expect(parser.parse(), "XML parse error: \(String(describing: parser.parserError))")
        #expect(checker.elements.first == "svg")
        #expect(checker.elements.filter { $0 == "polyline" }.count >= 5)
        let text = checker.texts.joined()
        #expect(text.contains("Activation std") && text.contains("gradient norm") && text.contains("Training loss"))
        #expect(text.contains("he-normal <&>"), "labels are escaped in XML and decode back")
        for bad in ["nan,", ",nan", "inf,", ",inf", "=\"nan", "=\"inf", "=\"-inf"] { #expect(!svg.contains(bad), "non-finite coordinate \(bad)") }
    }
}
