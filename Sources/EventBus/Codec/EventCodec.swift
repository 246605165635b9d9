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
        // Fast path for camelCase bodies; whatever it declines (or any error) goes through `JSONEncoder`.
        if keyStyle == .camelCase, let data = try? EventJSONWriter.encode(value) { return data }
        return try (keyStyle == .pascalCase ? Coders.pascalEncoder : Coders.camelEncoder).encode(value)
    }

    /// Decodes `type` from JSON, accepting PascalCase and camelCase keys.
    public func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        // No key starts with an uppercase letter (a camelCase body): camelCasing would change nothing, so a decoder
        // without a key strategy gives the same result, faster.
        if JSONKeyCase.mayHaveUppercaseKey(data) {
            return try Coders.camelCasingDecoder.decode(type, from: data)
        }
        // Faster still: the event reader; what it declines (or any error) goes through `JSONDecoder`.
        if let value = try? EventJSONReader.decode(type, from: data) { return value }
        return try Coders.plainDecoder.decode(type, from: data)
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
        if let seconds = try? container.decode(Double.self) { return Date(timeIntervalSince1970: seconds) }
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

/// ISO 8601 dates as .NET writes and reads them.
public enum EventDate {
    /// `2024-05-01T10:30:00.1234567Z`: UTC with seven fractional digits (100 ns ticks, as .NET writes).
    public static func format(_ date: Date) -> String {
        // Work from the 2001 reference (Date's own storage) to avoid a second rounding through the 1970 epoch.
        let sinceReference = date.timeIntervalSinceReferenceDate
        guard sinceReference.isFinite, abs(sinceReference) < 1e15 else { return formatWithCalendar(date) }
        let (wholeSeconds, ticks) = unixSecondsAndTicks(sinceReference)
        let days = wholeSeconds >= 0 ? wholeSeconds / 86_400 : (wholeSeconds - 86_399) / 86_400
        let secondOfDay = wholeSeconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        guard (0...9_999).contains(year) else { return formatWithCalendar(date) }
        return String(unsafeUninitializedCapacity: 28) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var value = value
                var position = offset + width - 1
                while position >= offset {
                    buffer[position] = UInt8(truncatingIfNeeded: 48 + value % 10)
                    value /= 10
                    position -= 1
                }
            }
            put(year, 4, at: 0)
            buffer[4] = 45  // -
            put(month, 2, at: 5)
            buffer[7] = 45
            put(day, 2, at: 8)
            buffer[10] = 84  // T
            put(secondOfDay / 3_600, 2, at: 11)
            buffer[13] = 58  // :
            put(secondOfDay / 60 % 60, 2, at: 14)
            buffer[16] = 58
            put(secondOfDay % 60, 2, at: 17)
            buffer[19] = 46  // .
            put(ticks, 7, at: 20)
            buffer[27] = 90  // Z
            return 28
        }
    }

    /// Whole seconds since 1970 and the 100 ns ticks after them, rounded to the nearest tick.
    private static func unixSecondsAndTicks(_ sinceReference: Double) -> (seconds: Int, ticks: Int) {
        let whole = sinceReference.rounded(.down)
        let ticks = Int(((sinceReference - whole) * 10_000_000).rounded())
        let seconds = Int(whole) + 978_307_200
        return ticks >= 10_000_000 ? (seconds + 1, ticks - 10_000_000) : (seconds, ticks)
    }

    /// The general (slow) form of ``format(_:)`` for years outside 0–9999.
    private static func formatWithCalendar(_ date: Date) -> String {
        let (wholeSeconds, ticks) = unixSecondsAndTicks(date.timeIntervalSinceReferenceDate)
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

    /// Year, month (1–12) and day (1–31) of the proleptic Gregorian calendar, `days` after 1970-01-01.
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days from 1970-01-01 to `year-month-day` (proleptic Gregorian); days past a month's end run into the next.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let year = month <= 2 ? year - 1 : year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`; no zone means UTC.
    public static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

    private static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Date? {
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
        let epoch = days(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
        return Date(timeIntervalSinceReferenceDate: Double(epoch - offset - 978_307_200) + Double(nanoseconds) / 1e9)
    }
}
