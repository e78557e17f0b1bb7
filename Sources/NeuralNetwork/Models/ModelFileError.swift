/// Why a model file or checkpoint cannot be loaded into a model or trainer. Each case names the
/// file and what does not match; nothing is changed in the model when one is thrown.
public enum ModelFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The model has a parameter the file does not hold.
    case missingTensor(file: String, name: String)
    /// The file holds a tensor the model has no parameter for (`optimizer.` entries of a
    /// checkpoint are not counted).
    case unexpectedTensor(file: String, name: String)
    /// A tensor of the file has another shape than the model's parameter of that name.
    case shapeMismatch(file: String, name: String, expected: [Int], found: [Int])
    /// A tensor of the file is stored in a dtype other than F32.
    case dtypeMismatch(file: String, name: String, expected: String, found: String)
    /// A checkpoint of a run with another configuration (`field` is e.g. "learning rate").
    case configurationMismatch(file: String, field: String, checkpoint: String, current: String)
    /// The file is not a checkpoint this build can resume from (`reason` says why).
    case notACheckpoint(file: String, reason: String)
    /// A file-system failure outside the tensor-file layer (creating the checkpoint directory).
    case io(file: String, reason: String)
    /// A checkpoint tensor whose data bytes no longer have the CRC-32 recorded when the
    /// checkpoint was written (`recorded`, `computed`: 8 hexadecimal digits): the file was changed
    /// or corrupted after it was written.
    case tensorChecksumMismatch(file: String, name: String, recorded: String, computed: String)

    /// The message: the file, the tensor or field, and what differs.
    public var description: String {
        func shape(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
        switch self {
        case let .missingTensor(file, name): return "\(file): no tensor '\(name)', which the model has (the file is of another architecture?)"
        case let .unexpectedTensor(file, name): return "\(file): tensor '\(name)' is not a parameter of the model (the file is of another architecture?)"
        case let .shapeMismatch(file, name, expected, found):
            return "\(file): tensor '\(name)' has shape \(shape(found)), the model's parameter has shape \(shape(expected))"
        case let .dtypeMismatch(file, name, expected, found): return "\(file): tensor '\(name)' is \(found), expected \(expected)"
        case let .configurationMismatch(file, field, checkpoint, current):
            return "\(file): the checkpoint was taken with \(field) \(checkpoint), this run has \(current); resume with the same settings or use another checkpoint directory"
        case let .notACheckpoint(file, reason): return "\(file): not a usable checkpoint: \(reason)"
        case let .io(file, reason): return "\(file): \(reason)"
        case let .tensorChecksumMismatch(file, name, recorded, computed):
            return "\(file): tensor '\(name)' is corrupt: the CRC-32 of its data is \(computed), the checkpoint recorded \(recorded) when it was written; the file was changed after it was written (restore it or start the run again)"
        }
    }

    /// Checks that `file` holds exactly the model's tensors with the same shapes (in the model's
    /// order: the first missing, then the first unexpected, then the first shape that differs).
    static func check(model: [(String, [Int])], file: [(String, [Int])], path: String) throws {
        let inFile = Dictionary(file.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        let inModel = Set(model.map(\.0))
        if let missing = model.first(where: { inFile[$0.0] == nil }) { throw ModelFileError.missingTensor(file: path, name: missing.0) }
        if let extra = file.first(where: { !inModel.contains($0.0) }) { throw ModelFileError.unexpectedTensor(file: path, name: extra.0) }
        for (name, shape) in model where inFile[name]! != shape {
            throw ModelFileError.shapeMismatch(file: path, name: name, expected: shape, found: inFile[name]!)
        }
    }
}
