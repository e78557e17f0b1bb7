/// Errors from model specs, presets, recipes and whole-model fills. Each names the offending
/// value (parameter, key, file) and the rule it breaks; `description` is a sentence a user can act on.
public enum RecipeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A spec that breaks a rule: `what` names the parameter or field, `rule` the requirement.
    case invalidSpec(what: String, rule: String)
    /// Two parameters share a name (names identify parameters and their keys).
    case duplicateName(String)
    /// An element count or byte size that overflows `Int`.
    case sizeOverflow(what: String)
    /// A preset name or preset key that does not exist; `valid` lists the accepted ones.
    case unknownPreset(name: String, valid: [String])
    /// `NAME:key=value` with an unknown key or a value that breaks the key's rule.
    case invalidOption(owner: String, key: String, value: String, rule: String)
    /// An item of the `key=value` list in `text` (`NAME:key=value,…`) that is not a `key=value`
    /// pair: empty (`a=1,,b=2`, a trailing comma, nothing after the colon), without `=`, or with an
    /// empty key. `option` is the command-line option (`--preset`, `--recipe`), `position` counts
    /// from 1 among `count` items.
    case invalidItem(option: String, text: String, item: String, position: Int, count: Int, rule: String)
    /// A recipe name that does not exist; `valid` lists the built-ins.
    case unknownRecipe(name: String, valid: [String])
    /// A rules file (or built-in rule) that breaks the format; `rule` says how.
    case invalidRule(index: Int, rule: String)
    /// Parameters no rule matched (and the recipe does not keep zeros for them).
    case unmatchedParameters([String])
    /// A recipe needs a model property (layer count, width, a sibling weight) the spec does not give.
    case missingContext(recipe: String, parameter: String, need: String)
    /// An initializer refused a parameter (bad hyper-parameter or shape), with its name.
    case initializer(parameter: String, InitializationError)
    /// The destination handed to `fill` does not have the parameter's byte size.
    case destinationSize(parameter: String, expected: Int, actual: Int)
    /// A filled parameter holds `count` NaN or ±inf values in its dtype (a runtime failure: the
    /// hyper-parameters passed the range checks, but a draw rounded beyond the type's range).
    case nonFiniteValues(parameter: String, dtype: String, count: Int)

    public var description: String {
        switch self {
        case let .invalidSpec(what, rule): return "\(what): \(rule)"
        case let .duplicateName(n): return "parameter name '\(n)' appears more than once; names must be unique"
        case let .sizeOverflow(what): return "\(what): the element count or byte size overflows a 64-bit integer"
        case let .unknownPreset(name, valid): return "unknown preset '\(name)'; valid presets: \(valid.joined(separator: ", "))"
        case let .invalidOption(owner, key, value, rule): return "\(owner): option \(key)=\(value) is invalid: \(rule)"
        case let .invalidItem(option, text, item, position, count, rule):
            let shown = item.allSatisfy({ $0 == " " || $0 == "\t" }) ? "is empty" : "'\(item)' is invalid"
            return "\(option) '\(text)': item \(position) of \(count) \(shown): \(rule)"
        case let .unknownRecipe(name, valid):
            return "unknown recipe '\(name)'; valid recipes: \(valid.joined(separator: ", ")) (or a fan-based scheme name such as he-normal)"
        case let .invalidRule(index, rule): return "rule \(index): \(rule)"
        case let .unmatchedParameters(names):
            let shown = names.prefix(20).joined(separator: ", ")
            return "no rule matches \(names.count) parameter(s): \(shown)\(names.count > 20 ? ", …" : ""); add a rule or keep them at zero explicitly (--unmatched zeros / \"unmatched\": \"zeros\")"
        case let .missingContext(recipe, parameter, need): return "recipe \(recipe), parameter '\(parameter)': needs \(need)"
        case let .initializer(parameter, e): return "parameter '\(parameter)': \(e.description)"
        case let .destinationSize(parameter, expected, actual):
            return "parameter '\(parameter)': destination holds \(actual) bytes, the tensor needs \(expected)"
        case let .nonFiniteValues(parameter, dtype, count):
            return "parameter '\(parameter)': \(count) value(s) are not finite in \(dtype) (they overflow its range); nothing was written — use a smaller scale or a wider dtype"
        }
    }
}
