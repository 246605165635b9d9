import Foundation
import Hummingbird
import SampleSupport

/// `GET /basket/{buyerId}`: the buyer's basket as an HTML page, with an alert for each line whose price the catalog
/// changed: "The price of NAME changed from OLD to NEW".
public struct BasketPage<Context: RequestContext>: Sendable {
    let repository: any BasketRepository

    /// Creates the page.
    public init(repository: any BasketRepository) {
        self.repository = repository
    }

    /// Adds `GET /basket/{buyerId}` to `router`.
    public func addRoutes(to router: Router<Context>) {
        router.get("basket/:buyerId", use: page)
    }

    @Sendable func page(_ request: Request, context: Context) async throws -> HTML {
        let buyerId = try CustomerBasket.validBuyerId(context.parameters.get("buyerId") ?? "")
        let basket = try await repository.basket(buyerId: buyerId) ?? CustomerBasket(buyerId: buyerId)
        return HTML(Self.render(basket))
    }

    /// The alert for a changed line.
    public static func alert(for item: BasketItem) -> String {
        "The price of \(item.productName) changed from \(item.oldUnitPrice.priceText) to \(item.unitPrice.priceText)"
    }

    /// The page for `basket`.
    public static func render(_ basket: CustomerBasket) -> String {
        let alerts = basket.items.filter(\.priceChanged).map { "<p class=\"alert\" role=\"alert\">\(escape(alert(for: $0)))</p>" }
        let rows = basket.items.map { item in
            """
            <tr><td>\(escape(item.productName))</td><td class="n">\(item.unitPrice.priceText)</td>\
            <td class="n">\(item.quantity)</td><td class="n">\((item.unitPrice * Decimal(item.quantity)).priceText)</td></tr>
            """
        }
        let total = basket.items.reduce(Decimal(0)) { $0 + $1.unitPrice * Decimal($1.quantity) }
        let content = basket.items.isEmpty
            ? "<p>The basket is empty.</p>"
            : """
            <table>
            <thead><tr><th>Product</th><th class="n">Price</th><th class="n">Quantity</th><th class="n">Cost</th></tr></thead>
            <tbody>
            \(rows.joined(separator: "\n"))
            </tbody>
            <tfoot><tr><th colspan="3">Total</th><th class="n">\(total.priceText)</th></tr></tfoot>
            </table>
            """
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Basket of \(escape(basket.buyerId))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 42rem; color: #222; }
            .alert { background: #fff3cd; border: 1px solid #e0c36b; border-radius: 4px; padding: .75rem 1rem; }
            table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
            th, td { border-bottom: 1px solid #ddd; padding: .5rem; text-align: left; }
            .n { text-align: right; }
            </style>
            </head>
            <body>
            <h1>Basket of \(escape(basket.buyerId))</h1>
            \(alerts.joined(separator: "\n"))
            \(content)
            </body>
            </html>
            """
    }

    /// Escapes text for HTML.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
