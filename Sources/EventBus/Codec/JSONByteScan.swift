/// Word-at-a-time scans over JSON text: eight bytes per step instead of one, for the long plain runs that event
/// bodies are mostly made of (ids, names, padding).
enum JSONByteScan {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// A word whose high bit is set in (at least) the lowest byte of `word` that is 0; higher bytes may be set wrongly,
    /// so a hit only says "look at these eight bytes".
    @inline(__always)
    private static func zeroBytes(_ word: UInt64) -> UInt64 {
        (word &- ones) & ~word & highs
    }

    /// Whether `word` may hold `byte`.
    @inline(__always)
    private static func mayHold(_ word: UInt64, _ byte: UInt8) -> Bool {
        zeroBytes(word ^ (ones &* UInt64(byte))) != 0
    }

    /// Whether `word` may hold a byte below 0x20 (bytes from 0x80 never count).
    @inline(__always)
    private static func mayHoldControl(_ word: UInt64) -> Bool {
        (word &- ones &* 0x20) & ~word & highs != 0
    }

    /// The index of the first byte from `start` that is a quote, a backslash, a control character (below 0x20) or,
    /// when `slash` is true, a `/`; `bytes.count` when there is none. Whether any byte before that index is
    /// non-ASCII (0x80 and above) is added to `nonASCII`.
    static func firstSpecial(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, slash: Bool, nonASCII: inout Bool) -> Int {
        guard let base = bytes.baseAddress else { return start }
        let count = bytes.count
        var index = start
        var high: UInt64 = 0
        while index + 8 <= count {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            if mayHold(word, 0x22) || mayHold(word, 0x5C) || mayHoldControl(word) || (slash && mayHold(word, 0x2F)) { break }
            high |= word
            index += 8
        }
        if high & highs != 0 { nonASCII = true }
        while index < count {
            let byte = base[index]
            if byte == 0x22 || byte == 0x5C || byte < 0x20 || (slash && byte == 0x2F) { return index }
            if byte >= 0x80 { nonASCII = true }
            index += 1
        }
        return count
    }

    /// Whether any byte of `bytes` is 0x80 or above.
    static func hasNonASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        let count = bytes.count
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= count {
            high |= UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            index += 8
        }
        while index < count {
            high |= UInt64(base[index])
            index += 1
        }
        return high & highs != 0
    }
}
