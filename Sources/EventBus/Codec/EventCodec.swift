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

    /// Key style of encoded bodies. Decoding accepts both styles regardless.
    public var keyStyle: KeyStyle

    /// Creates a codec.
    public init(keyStyle: KeyStyle = .camelCase) {
        self.keyStyle = keyStyle
    }

    /// Encodes `value` as JSON. Dates are ISO 8601 UTC with seven fractional digits, as .NET writes them.
    public func encode<Value: Encodable>(_ value: Value) throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(EventDate.format(date))
        }
        if keyStyle == .pascalCase {
            encoder.keyEncodingStrategy = .custom { path in
                PascalKey(stringValue: EventCodec.pascalCased(path.last?.stringValue ?? ""))
            }
        }
        return try encoder.encode(value)
    }

    /// Decodes `type` from JSON, accepting PascalCase and camelCase keys.
    public func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in
            PascalKey(stringValue: EventCodec.camelCased(path.last?.stringValue ?? ""))
        }
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Double.self) { return Date(timeIntervalSince1970: seconds) }
            let text = try container.decode(String.self)
            guard let date = EventDate.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
            }
            return date
        }
        return try decoder.decode(type, from: data)
    }

    /// The value of the body's top-level `Id` or `id`, when the body is a JSON object that has one.
    public func bodyID(_ data: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
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

private struct PascalKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// ISO 8601 dates as .NET writes and reads them.
public enum EventDate {
    /// `2024-05-01T10:30:00.1234567Z`: UTC with seven fractional digits (100 ns ticks, as .NET writes).
    public static func format(_ date: Date) -> String {
        // Work from the 2001 reference (Date's own storage) to avoid a second rounding through the 1970 epoch.
        let sinceReference = date.timeIntervalSinceReferenceDate
        let whole = sinceReference.rounded(.down)
        var ticks = Int(((sinceReference - whole) * 10_000_000).rounded())
        var wholeSeconds = Int(whole) + 978_307_200
        if ticks >= 10_000_000 {
            ticks -= 10_000_000
            wholeSeconds += 1
        }
        var time = time_t(wholeSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let fraction = String(ticks)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 7 - fraction.count) + fraction + "Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`; no zone means UTC.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<digits {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
                index += 1
            }
            return value
        }
        func expect(_ character: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == character else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
            index < bytes.count, bytes[index] == 84 || bytes[index] == 116 || bytes[index] == 32
        else { return nil }
        index += 1
        guard let hour = number(2), expect(58), let minute = number(2), expect(58), let second = number(2) else { return nil }
        var nanoseconds = 0
        if index < bytes.count, bytes[index] == 46 || bytes[index] == 44 {
            index += 1
            var digits = 0
            let start = index
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 9 {
                    nanoseconds = nanoseconds * 10 + Int(bytes[index] - 48)
                    digits += 1
                }
                index += 1
            }
            if index == start { return nil }
            for _ in digits..<9 { nanoseconds *= 10 }
        }
        var offset = 0
        if index < bytes.count {
            if bytes[index] == 90 || bytes[index] == 122 {
                index += 1
            } else if bytes[index] == 43 || bytes[index] == 45 {
                let sign = bytes[index] == 45 ? -1 : 1
                index += 1
                guard let hours = number(2) else { return nil }
                _ = expect(58)
                guard let minutes = number(2) else { return nil }
                offset = sign * (hours * 3_600 + minutes * 60)
            } else {
                return nil
            }
        }
        guard index == bytes.count, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        return Date(timeIntervalSinceReferenceDate: Double(epoch - offset - 978_307_200) + Double(nanoseconds) / 1e9)
    }
}
