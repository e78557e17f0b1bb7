// firstDuplicateJSONKey: hand-written documents with known repeated keys (bk7, defect 3).
import Testing
@testable import TensorFiles

@Suite("firstDuplicateJSONKey")
struct DuplicateJSONKeyTests {
    @Test("finds a key repeated at any depth, with its path; distinct keys (also equal keys in different objects) → nil")
    func paths() {
        #expect(firstDuplicateJSONKey(in: #"{"a":1,"b":2}"#) == nil)
        #expect(firstDuplicateJSONKey(in: #"{"a":1,"a":2}"#) == ["a"])
        #expect(firstDuplicateJSONKey(in: #"{"x":{"k":1},"y":{"k":2}}"#) == nil)
        #expect(firstDuplicateJSONKey(in: #"{"t":{"0.bias":"ab","0.weight":"cd","0.bias":"00"}}"#) == ["t", "0.bias"])
        #expect(firstDuplicateJSONKey(in: #"{"l":[{"a":1},{"b":1,"b":2}]}"#) == ["l", "1", "b"])
        // Escapes are decoded before comparing: "\u0061" is "a".
        #expect(firstDuplicateJSONKey(in: #"{"a":1,"\u0061":2}"#) == ["a"])
        #expect(firstDuplicateJSONKey(in: "[1, 2, \"a\"]") == nil)
        #expect(firstDuplicateJSONKey(in: #"{"a":1,"#) == nil)   // malformed: left to the decoder
    }
}
