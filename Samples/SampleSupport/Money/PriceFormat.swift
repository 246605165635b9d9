import Foundation

extension Decimal {
    /// The price as shown to people: at least two fraction digits, never rounded (`19.5` → `19.50`, `8` → `8.00`,
    /// `1.125` → `1.125`).
    public var priceText: String {
        let text = "\(self)"
        guard let dot = text.firstIndex(of: ".") else { return text + ".00" }
        let fractionDigits = text.distance(from: dot, to: text.endIndex) - 1
        return fractionDigits >= 2 ? text : text + String(repeating: "0", count: 2 - fractionDigits)
    }
}
