/// A typed failure reading or writing a tensor file (safetensors or `.npy`): the file, the
/// tensor (when one is concerned), the rule that was broken and the offending values.
///
/// Readers raise it before allocating anything larger than the file.
public struct TensorFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The rule a file or a request broke.
    public enum Rule: String, Sendable, Equatable {
        /// The file cannot be opened, stat'ed or mapped (the detail names the system call).
        case io
        /// The file is another format (a .npy file, a zip or pickle checkpoint, text, …) opened
        /// as safetensors; the detail names the format its first bytes show.
        case notSafetensors
        /// The file is shorter than its fixed-size prefix (8 bytes for safetensors, the magic
        /// and header length for .npy).
        case truncated
        /// safetensors: header length > 100 000 000 bytes; .npy: header > 10 000 characters.
        case headerTooLarge
        /// The header length points past the end of the file.
        case headerBeyondFile
        /// The header is not valid UTF-8 (safetensors) / Latin-1 or UTF-8 (.npy).
        case headerNotText
        /// The header is not well-formed JSON (safetensors) / a Python dict literal (.npy).
        case headerSyntax
        /// The header is well-formed but not of the required form (not an object; an entry
        /// not an object; a missing or unexpected key; a value of the wrong type).
        case headerStructure
        /// A tensor name occurs twice in the header.
        case duplicateName
        /// `__metadata__` is not an object whose values are all strings.
        case invalidMetadata
        /// The dtype string is not one this package knows (or a sub-byte type it cannot use).
        case unknownDtype
        /// A shape entry is not a non-negative integer.
        case invalidShape
        /// The element count (product of the shape) or byte size overflows Int.
        case countOverflow
        /// `data_offsets` is not two non-negative integers with begin ≤ end.
        case invalidOffsets
        /// `end - begin` differs from element count × dtype size.
        case byteLengthMismatch
        /// Sorted by offset, a tensor starts after the previous one ends (unused bytes).
        case gap
        /// Sorted by offset, a tensor starts before the previous one ends.
        case overlap
        /// The tensors end before the end of the file (bytes nobody owns) or after it.
        case dataSizeMismatch
        /// .npy: the file holds fewer data bytes than the shape and dtype need.
        case dataTooShort
        /// .npy: an unsupported format version (not 1.0, 2.0 or 3.0) or bad magic string.
        case badMagic
        /// A request names a tensor that is not in the file.
        case tensorNotFound
        /// A request or an operation does not fit the tensor's dtype or shape (e.g. reading
        /// I64 as Float, writing 5 values into a 6-element tensor).
        case mismatch
        /// A writer's tensor list is invalid (empty or duplicate names, negative dims, …).
        case invalidSpec
        /// A finite value is beyond the largest finite value of the tensor's dtype (e.g. 70000
        /// written to an F16 tensor would be stored as inf): rejected before anything is written.
        case notRepresentable
        /// The output file could not be written (see the detail; `OutputFileError` text).
        case output
    }

    /// The file's path as the caller gave it.
    public let file: String
    /// The tensor concerned, if any.
    public let tensor: String?
    /// The rule broken.
    public let rule: Rule
    /// What was found, with numbers.
    public let detail: String

    public init(file: String, tensor: String? = nil, rule: Rule, _ detail: String) {
        self.file = file; self.tensor = tensor; self.rule = rule; self.detail = detail
    }

    public var description: String {
        var s = "'\(file)'"
        if let tensor { s += ", tensor '\(tensor)'" }
        return s + ": \(rule.rawValue): \(detail)"
    }
}
