import Foundation

/// ISO 8601 dates as .NET writes and reads them.
///
/// The dates an event can carry are those with a four-digit year, `0000-01-01T00:00:00Z` up to
/// `9999-12-31T23:59:59.9999999Z` (``isInRange(_:)``; .NET's `DateTime` starts at year 1, Foundation's `distantPast`
/// is in year 0). ``parse(_:)`` returns only dates in that range; ``format(_:)`` writes every `Date` (clamping the
/// others, see there); the codec refuses to encode or decode a date outside it.
public enum EventDate {
    /// Seconds since 1970 of `0000-01-01T00:00:00Z`, the earliest date in range.
    static let earliestUnixSecond = -62_167_219_200
    /// Seconds since 1970 of `9999-12-31T23:59:59Z`, the last whole second in range.
    static let latestUnixSecond = 253_402_300_799
    /// Seconds from 1970 to Date's 2001 reference.
    private static let referenceUnixSecond = 978_307_200

    /// Whether `date` lies in `0000-01-01T00:00:00Z` ... `9999-12-31T23:59:59.9999999Z`, the range ``format(_:)``
    /// writes unchanged (to the 100 ns tick) and ``parse(_:)`` reads.
    public static func isInRange(_ date: Date) -> Bool {
        // Against Date's own storage (no rounding through 1970); NaN fails both comparisons.
        let sinceReference = date.timeIntervalSinceReferenceDate
        return sinceReference >= lowerBound && sinceReference < upperBound
    }

    /// The range in seconds since 2001 (Date's own storage), lower bound included, upper excluded. Both are exact.
    private static let lowerBound = Double(earliestUnixSecond - referenceUnixSecond)
    private static let upperBound = Double(latestUnixSecond + 1 - referenceUnixSecond)

    /// `2024-05-01T10:30:00.1234567Z`: UTC with seven fractional digits (100 ns ticks, as .NET writes).
    ///
    /// Total: any `Date` gives a 28-character text that ``parse(_:)`` and .NET read back. A date outside
    /// ``isInRange(_:)`` is written as the nearest end of the range (`0000-01-01T00:00:00.0000000Z` or
    /// `9999-12-31T23:59:59.9999999Z`), and NaN, which has no order, as the earliest. Such dates only come from
    /// outside (an AMQP `timestamp` near 2^64 seconds, which some clients write for "no time"): a header keeps a
    /// readable value instead of stopping the delivery, and the codec refuses them in bodies.
    public static func format(_ date: Date) -> String {
        String(unsafeUninitializedCapacity: textLength) { buffer in
            write(date, into: buffer)
            return textLength
        }
    }

    /// Appends ``format(_:)``'s text to `bytes` without making a `String` (JSON bodies: the text needs no escaping).
    static func append(_ date: Date, to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: textLength))
        bytes.withUnsafeMutableBufferPointer { all in
            write(date, into: UnsafeMutableBufferPointer(rebasing: all[start..<start + textLength]))
        }
    }

    /// Bytes in ``format(_:)``'s text: `yyyy-MM-ddTHH:mm:ss.fffffffZ`.
    private static let textLength = 28

    /// Writes ``format(_:)``'s text into the first ``textLength`` bytes of `buffer`.
    private static func write(_ date: Date, into buffer: UnsafeMutableBufferPointer<UInt8>) {
        let (wholeSeconds, ticks) = unixSecondsAndTicks(date.timeIntervalSinceReferenceDate)
        let days = wholeSeconds >= 0 ? wholeSeconds / 86_400 : (wholeSeconds - 86_399) / 86_400
        let secondOfDay = wholeSeconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
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
    }

    /// Whole seconds since 1970 and the 100 ns ticks after them, rounded to the nearest tick and clamped to the
    /// range (see ``format(_:)``). Works from the 2001 reference (Date's own storage) to avoid a second rounding.
    private static func unixSecondsAndTicks(_ sinceReference: Double) -> (seconds: Int, ticks: Int) {
        let latest = (seconds: latestUnixSecond, ticks: 9_999_999)
        // Comparisons first: they are false for NaN, and keep every conversion below within Int's range.
        guard sinceReference >= lowerBound else { return (earliestUnixSecond, 0) }
        guard sinceReference < upperBound else { return latest }
        let whole = sinceReference.rounded(.down)
        let ticks = Int(((sinceReference - whole) * 10_000_000).rounded())
        let seconds = Int(whole) + referenceUnixSecond
        guard ticks >= 10_000_000 else { return (seconds, ticks) }
        // Rounding up carried into the next second, which may be past the end.
        return seconds < latestUnixSecond ? (seconds + 1, 0) : latest
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

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`; no zone means UTC. Returns `nil` for malformed text and
    /// for a date outside ``isInRange(_:)`` (an offset that moves it past either end).
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
        // Every field has at most four digits, so this sum cannot overflow.
        let unixSecond = days(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second - offset
        guard unixSecond >= earliestUnixSecond, unixSecond <= latestUnixSecond else { return nil }
        // The last 100 ns of year 9999 round up to the upper bound in a Double: keep them inside.
        let sinceReference = Double(unixSecond - referenceUnixSecond) + Double(nanoseconds) / 1e9
        return Date(timeIntervalSinceReferenceDate: min(sinceReference, upperBound.nextDown))
    }
}
