import Foundation

/// Encodes and decodes event bodies (DESIGN section 4).
///
/// Decoding accepts eShop's PascalCase keys (`Id`, `CreationDate`, `ProductId`) as well as camelCase, dates with
/// any number of fractional-second digits (.NET writes seven) with `Z`, an offset, or no zone (read as UTC), and
/// decimals exactly (prices are `Decimal`, never binary floats). Encoding writes camelCase by default, or
/// PascalCase for .NET consumers that expect it.
public struct EventCodec: Sendable {
    /// Key style of encoded bodies.
    public enum KeyStyle: Sendable, Hashable {
        /// `productId` (Swift convention).
        case camelCase
        /// `ProductId` (.NET convention).
        case pascalCase
    }

    /// The largest body ``decode(_:from:)`` reads by default: 1 MiB.
    public static let defaultMaxBodySize = 1_048_576

    /// Key style of encoded bodies. Decoding accepts both styles regardless.
    public var keyStyle: KeyStyle

    /// The largest body, in bytes, that ``decode(_:from:)`` and ``bodyID(_:)`` read. A larger one is refused before
    /// any parsing (``EventCodecError/bodyTooLarge(size:limit:)``), so a body's size bounds the memory and time its
    /// decoding takes.
    public var maxBodySize: Int

    /// Creates a codec.
    ///
    /// - Parameters:
    ///   - keyStyle: Key style of encoded bodies.
    ///   - maxBodySize: The largest body in bytes that decoding reads (default 1 MiB); a bus passes its maximum event
    ///     size. Negative values count as 0.
    public init(keyStyle: KeyStyle = .camelCase, maxBodySize: Int = EventCodec.defaultMaxBodySize) {
        self.keyStyle = keyStyle
        self.maxBodySize = max(0, maxBodySize)
    }

    /// Encodes `value` as JSON. Dates are ISO 8601 UTC with seven fractional digits, as .NET writes them; a date
    /// outside ``EventDate/isInRange(_:)`` (years 0000 to 9999) is an `EncodingError`, as no reader would get it back.
    public func encode<Value: Encodable>(_ value: Value) throws -> Data {
        // Fast path for camelCase bodies; whatever it declines (or any error) goes through `JSONEncoder`.
        if keyStyle == .camelCase, let data = try? EventJSONWriter.encode(value) { return data }
        return try (keyStyle == .pascalCase ? Coders.pascalEncoder : Coders.camelEncoder).encode(value)
    }

    /// Decodes `type` from JSON, accepting PascalCase and camelCase keys.
    ///
    /// Throws ``EventCodecError/bodyTooLarge(size:limit:)`` for a body over ``maxBodySize``, and a `DecodingError`
    /// for anything else it cannot read, including a date outside ``EventDate/isInRange(_:)`` (a number of seconds
    /// that is huge or not finite).
    public func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        guard data.count <= maxBodySize else { throw EventCodecError.bodyTooLarge(size: data.count, limit: maxBodySize) }
        // The event reader first: it reads camelCase bodies only (it declines any key that is not plain ASCII or
        // starts with an uppercase letter, which camelCasing could change). What it declines goes on below.
        // (`do`/`catch` rather than `try?`: an `Optional<Value>` costs a generic metadata lookup per call.)
        do { return try EventJSONReader.decode(type, from: data) } catch {}
        // No key starts with an uppercase letter (a camelCase body): camelCasing would change nothing, so a decoder
        // without a key strategy gives the same result, faster.
        if JSONKeyCase.mayHaveUppercaseKey(data) {
            return try Coders.camelCasingDecoder.decode(type, from: data)
        }
        return try Coders.plainDecoder.decode(type, from: data)
    }

    /// The value of the body's top-level `Id` or `id`, when the body is a JSON object that has one and is no larger
    /// than ``maxBodySize``.
    public func bodyID(_ data: Data) -> String? {
        guard data.count <= maxBodySize, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        for key in ["id", "Id", "ID"] {
            if let text = object[key] as? String { return text }
            if let number = object[key] as? NSNumber { return number.stringValue }
        }
        return nil
    }

    static func camelCased(_ key: String) -> String {
        guard let first = key.first, first.isUppercase else { return key }
        // "ID" → "id", "Id" → "id", "ProductId" → "productId".
        if key.allSatisfy({ $0.isUppercase }) { return key.lowercased() }
        return first.lowercased() + key.dropFirst()
    }

    static func pascalCased(_ key: String) -> String {
        guard let first = key.first else { return key }
        return first.uppercased() + key.dropFirst()
    }
}

/// The JSON coders ``EventCodec`` uses, configured once: Foundation's coders are safe to share between threads once
/// configured (their options are read under a lock, each call builds its own state), and building them and their
/// strategy closures per call was a large part of a publish's or a delivery's cost.
private enum Coders {
    static let camelEncoder = encoder(keys: nil)
    static let pascalEncoder = encoder(keys: EventCodec.pascalCased)
    /// For bodies whose keys are camelCase already.
    static let plainDecoder = decoder(keys: nil)
    /// The general path: camelCases every key with ``EventCodec/camelCased(_:)``.
    static let camelCasingDecoder = decoder(keys: EventCodec.camelCased)

    /// An encoder writing ``EventDate`` dates, with every key passed through `keys` when given.
    private static func encoder(keys: (@Sendable (String) -> String)?) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom(encodeDate)
        if let keys { encoder.keyEncodingStrategy = .custom { PascalKey(stringValue: keys($0.last?.stringValue ?? "")) } }
        return encoder
    }

    /// A decoder reading ``EventDate`` dates, with every key passed through `keys` when given.
    private static func decoder(keys: (@Sendable (String) -> String)?) -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom(decodeDate)
        if let keys { decoder.keyDecodingStrategy = .custom { PascalKey(stringValue: keys($0.last?.stringValue ?? "")) } }
        return decoder
    }

    @Sendable static func encodeDate(_ date: Date, _ encoder: any Encoder) throws {
        guard EventDate.isInRange(date) else {
            // The seconds, not the Date: describing a NaN Date traps in Foundation.
            throw EncodingError.invalidValue(date.timeIntervalSince1970, EncodingError.Context(
                codingPath: encoder.codingPath,
                debugDescription: "\(date.timeIntervalSince1970) seconds since 1970 is outside the years 0000 to 9999 an event date can carry"))
        }
        var container = encoder.singleValueContainer()
        try container.encode(EventDate.format(date))
    }

    @Sendable static func decodeDate(_ decoder: any Decoder) throws -> Date {
        let container = try decoder.singleValueContainer()
        // A string first: what every publisher writes (a failed attempt builds an error, which is not cheap).
        if let text = try? container.decode(String.self) {
            guard let date = EventDate.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
            }
            return date
        }
        if let seconds = try? container.decode(Double.self) {
            let date = Date(timeIntervalSince1970: seconds)
            // A huge or non-finite number would give a Date that no reader gets back (and that traps in conversions).
            guard EventDate.isInRange(date) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\(seconds) seconds since 1970 is outside the years 0000 to 9999 an event date can carry")
            }
            return date
        }
        let text = try container.decode(String.self)
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
    }
}

private struct PascalKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}
