import Foundation

/// Finds out, in one pass over its bytes, whether a JSON text has an object key that starts with an uppercase
/// letter: when none does, camelCasing keys (``EventCodec/camelCased(_:)``) changes nothing and ``EventCodec`` can
/// decode without a key strategy, whose closure the JSON decoder calls per key with the whole coding path.
///
/// It answers `true` whenever it is not sure (keys with escapes or non-ASCII bytes, nesting deeper than 64 levels,
/// text that is not well-formed at the level it looks at, NUL bytes as in UTF-16 or UTF-32 text), so that the caller
/// takes the general path.
enum JSONKeyCase {
    private static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C
    private static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D
    private static let openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D, comma: UInt8 = 0x2C

    /// Whether some object key of `data` may start with an uppercase letter.
    static func mayHaveUppercaseKey(_ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return true }
            return scan(UnsafeBufferPointer(start: base, count: raw.count))
        }
    }

    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        // Container stack as bits: 1 = object. `depth` containers are open.
        var objects: UInt64 = 0
        var depth = 0
        var expectKey = false
        var index = 0
        while index < count {
            let byte = bytes[index]
            switch byte {
            case openBrace, openBracket:
                guard depth < 64 else { return true }
                if byte == openBrace { objects |= 1 << UInt64(depth) } else { objects &= ~(1 << UInt64(depth)) }
                depth += 1
                expectKey = byte == openBrace
                index += 1
            case closeBrace, closeBracket:
                guard depth > 0 else { return true }
                depth -= 1
                expectKey = false
                index += 1
            case comma:
                guard depth > 0 else { return true }
                expectKey = objects & (1 << UInt64(depth - 1)) != 0
                index += 1
            case 0x00:
                // Never in UTF-8 JSON: UTF-16 or UTF-32 text, which JSONDecoder reads but this scan cannot.
                return true
            case quote:
                var end = index + 1
                if expectKey {
                    if end < count, bytes[end] >= 0x41, bytes[end] <= 0x5A { return true }
                    while end < count, bytes[end] != quote {
                        guard bytes[end] != backslash, bytes[end] < 0x80, bytes[end] != 0x00 else { return true }
                        end += 1
                    }
                    expectKey = false
                } else {
                    while end < count, bytes[end] != quote {
                        end += bytes[end] == backslash ? 2 : 1
                    }
                }
                guard end < count else { return true }
                index = end + 1
            default:
                index += 1
            }
        }
        return depth != 0
    }
}
