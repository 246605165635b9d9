import EventBus
import Foundation

/// One of Event Grid's advanced filters: a condition on an event attribute (`subject`, `source`, `type`, `id`) or on a
/// field of its data (`data.price`, `data.address.city`). A subscription delivers an event only when all its advanced
/// filters hold. An event whose field is missing or of another kind does not pass (Event Grid's rule).
///
/// JSON: `{"operatorType": "NumberGreaterThan", "key": "data.newPrice", "value": 10}`; the `…In` operators and the
/// string operators take `values`: `{"operatorType": "StringContains", "key": "subject", "values": ["red", "blue"]}`.
public struct AdvancedFilter: Sendable, Hashable, Codable {
    /// The comparison.
    public enum Operator: String, Sendable, Hashable, Codable, CaseIterable {
        case numberIn = "NumberIn"
        case numberNotIn = "NumberNotIn"
        case numberGreaterThan = "NumberGreaterThan"
        case numberGreaterThanOrEquals = "NumberGreaterThanOrEquals"
        case numberLessThan = "NumberLessThan"
        case numberLessThanOrEquals = "NumberLessThanOrEquals"
        case stringContains = "StringContains"
        case stringBeginsWith = "StringBeginsWith"
        case stringEndsWith = "StringEndsWith"
        case stringIn = "StringIn"
        case stringNotIn = "StringNotIn"
        case boolEquals = "BoolEquals"
    }

    /// The comparison.
    public var operatorType: Operator
    /// `subject`, `source`, `type`, `id`, or `data.<field>[.<field>…]`.
    public var key: String
    /// The single operand of `NumberGreaterThan…`, `NumberLessThan…` and `BoolEquals`.
    public var value: JSONValue?
    /// The operands of the `…In`, `…NotIn` and string operators (a match of any one passes; string matches ignore case,
    /// as Event Grid's do).
    public var values: [JSONValue]?

    /// Creates a filter; ``validationProblem()`` says whether its operands fit its operator.
    public init(_ operatorType: Operator, key: String, value: JSONValue? = nil, values: [JSONValue]? = nil) {
        self.operatorType = operatorType
        self.key = key
        self.value = value
        self.values = values
    }

    /// Throws ``GatewayError/invalidSubscription(name:field:reason:)``-ready text when the operands do not fit.
    public func validationProblem() -> String? {
        guard key == "subject" || key == "source" || key == "type" || key == "id" || (key.hasPrefix("data.") && key.count > 5) else {
            return "key '\(key)' must be subject, source, type, id or data.<field>"
        }
        switch operatorType {
        case .numberGreaterThan, .numberGreaterThanOrEquals, .numberLessThan, .numberLessThanOrEquals:
            return value?.doubleValue == nil ? "\(operatorType.rawValue) takes a number in value" : nil
        case .boolEquals:
            if case .bool = value { return nil }
            return "BoolEquals takes true or false in value"
        case .numberIn, .numberNotIn:
            guard let values, !values.isEmpty, values.count <= 25, values.allSatisfy({ $0.doubleValue != nil }) else {
                return "\(operatorType.rawValue) takes 1...25 numbers in values"
            }
            return nil
        case .stringContains, .stringBeginsWith, .stringEndsWith, .stringIn, .stringNotIn:
            guard let values, !values.isEmpty, values.count <= 25, values.allSatisfy({ if case .string = $0 { true } else { false } }) else {
                return "\(operatorType.rawValue) takes 1...25 strings in values"
            }
            return nil
        }
    }

    /// Whether the event passes. `data` is the event's data, parsed once per event by the caller.
    public func matches(_ event: RawEvent, data: JSONValue?) -> Bool {
        let field: JSONValue?
        switch key {
        case "subject": field = event.subject.map(JSONValue.string)
        case "source": field = event.source.map(JSONValue.string)
        case "type": field = .string(event.eventType)
        case "id": field = .string(event.id)
        default: field = data?.value(atPath: key.dropFirst(5))
        }
        guard let field else { return false }
        switch operatorType {
        case .numberIn, .numberNotIn:
            guard let number = field.doubleValue else { return false }
            let found = (values ?? []).contains { $0.doubleValue == number }
            return operatorType == .numberIn ? found : !found
        case .numberGreaterThan, .numberGreaterThanOrEquals, .numberLessThan, .numberLessThanOrEquals:
            guard let number = field.doubleValue, let operand = value?.doubleValue else { return false }
            switch operatorType {
            case .numberGreaterThan: return number > operand
            case .numberGreaterThanOrEquals: return number >= operand
            case .numberLessThan: return number < operand
            default: return number <= operand
            }
        case .boolEquals:
            guard case .bool(let flag) = field, case .bool(let operand) = value else { return false }
            return flag == operand
        case .stringContains, .stringBeginsWith, .stringEndsWith, .stringIn, .stringNotIn:
            guard case .string(let text) = field else { return false }
            let lowered = text.lowercased()
            let operands = (values ?? []).compactMap { if case .string(let s) = $0 { s.lowercased() } else { nil } }
            switch operatorType {
            case .stringContains: return operands.contains { lowered.contains($0) }
            case .stringBeginsWith: return operands.contains { lowered.hasPrefix($0) }
            case .stringEndsWith: return operands.contains { lowered.hasSuffix($0) }
            case .stringIn: return operands.contains(lowered)
            default: return !operands.contains(lowered)
            }
        }
    }
}
