import Foundation
import Hummingbird

/// Bounds every value a sample takes from a request: each check either returns a value in range or throws
/// ``InvalidField`` naming the field. Nothing here traps or allocates by the input's size.
public enum FieldValidation {
    /// The most bytes a free text field (a name, a description) may have.
    public static let maximumTextBytes = 2_000
    /// Ids of products and catalog items: positive and within PostgreSQL's `INTEGER`.
    public static let identifiers: ClosedRange<Int> = 1...Int(Int32.max)
    /// Prices: non-negative and below an amount no shop charges; at most ``priceFractionDigits`` decimals.
    public static let prices: ClosedRange<Decimal> = 0...1_000_000
    /// Decimals a price may have.
    public static let priceFractionDigits = 4

    /// Parses `text` as a decimal integer in `range`; `nil` text gives `defaultValue`.
    public static func integer(_ text: String?, field: String, in range: ClosedRange<Int>, default defaultValue: Int? = nil) throws -> Int {
        guard let text else {
            guard let defaultValue else { throw InvalidField(field, "is required (an integer in \(range.lowerBound)...\(range.upperBound))") }
            return defaultValue
        }
        // Int(_:) returns nil on overflow: no trap, and a 20-digit number is as wrong as a word.
        guard text.utf8.count <= 20, let value = Int(text) else {
            throw InvalidField(field, "must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return try integer(value, field: field, in: range)
    }

    /// `value` when it lies in `range`.
    @discardableResult
    public static func integer(_ value: Int, field: String, in range: ClosedRange<Int>) throws -> Int {
        guard range.contains(value) else { throw InvalidField(field, "must be in \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    /// `text` when it has `bytes` UTF-8 bytes and no control characters (PostgreSQL refuses NUL in text; a newline
    /// in a name forges log lines).
    @discardableResult
    public static func text(_ text: String, field: String, bytes: ClosedRange<Int> = 1...maximumTextBytes) throws -> String {
        guard bytes.contains(text.utf8.count) else { throw InvalidField(field, "must have \(bytes.lowerBound)...\(bytes.upperBound) bytes") }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw InvalidField(field, "must not contain control characters")
        }
        return text
    }

    /// `price` when it is a number in ``prices`` with at most ``priceFractionDigits`` decimals.
    @discardableResult
    public static func price(_ price: Decimal, field: String) throws -> Decimal {
        guard !price.isNaN, prices.contains(price) else {
            throw InvalidField(field, "must be a number in \(prices.lowerBound)...\(prices.upperBound)")
        }
        var value = price
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, priceFractionDigits, .plain)
        guard rounded == price else { throw InvalidField(field, "must have at most \(priceFractionDigits) decimals") }
        return price
    }
}
