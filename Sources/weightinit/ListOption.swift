import Foundation
import ArgumentParser

/// The one parser of comma-separated option values (`--hidden 256,128`, `--inits a,b`,
/// `--only gemm,dense`): items are split at every comma and trimmed of spaces; an empty item
/// (`a,,b`, a leading or trailing comma, or a blank item) is refused naming the option, the
/// value, the item's position and the rule, so no option silently drops an item.
/// - Returns: the trimmed items; `[]` for an empty or blank `text` (callers decide what an empty
///   list means).
/// - Throws: `ValidationError` (exit 64).
func parseList(_ text: String, option: String) throws -> [String] {
    if text.allSatisfy({ $0 == " " || $0 == "\t" }) { return [] }
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    if let i = items.firstIndex(where: \.isEmpty) {
        throw ValidationError("\(option) '\(text)': item \(i + 1) of \(items.count) is empty; separate the items with single commas, no empty item")
    }
    return items
}
