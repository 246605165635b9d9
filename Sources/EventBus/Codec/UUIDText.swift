import Foundation

/// UUIDs to and from their 36-character text without Foundation's `uuidString` / `UUID(uuidString:)`, which on
/// Linux go through `sprintf` and `sscanf` (≈ 0.4–0.5 µs each, ten times this). Every publish formats its event's id
/// twice (body and `message_id`) and every delivery parses one, so the difference shows in the bus's CPU per event.
extension UUID {
    private static let lowerDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let upperDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// The id as lowercase text, e.g. `5f1c…-…`: the form the bus puts in `message_id` and the stores' keys.
    package var lowercasedText: String { text(digits: Self.lowerDigits) }

    /// Appends the id's text to `bytes`, uppercase like `uuidString` (and so like `JSONEncoder`).
    package func appendUppercaseText(to bytes: inout [UInt8]) {
        withUnsafeBytes(of: uuid) { raw in
            Self.upperDigits.withUnsafeBufferPointer { digits in
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 { bytes.append(0x2D) }
                    bytes.append(digits[Int(raw[index] >> 4)])
                    bytes.append(digits[Int(raw[index] & 0x0F)])
                }
            }
        }
    }

    private func text(digits table: [UInt8]) -> String {
        withUnsafeBytes(of: uuid) { raw in
            table.withUnsafeBufferPointer { digits in
                String(unsafeUninitializedCapacity: 36) { out in
                    var position = 0
                    for index in 0..<16 {
                        if index == 4 || index == 6 || index == 8 || index == 10 {
                            out[position] = 0x2D
                            position += 1
                        }
                        out[position] = digits[Int(raw[index] >> 4)]
                        out[position + 1] = digits[Int(raw[index] & 0x0F)]
                        position += 2
                    }
                    return position
                }
            }
        }
    }

    /// Parses the 36-character form (hyphens after 8, 12, 16 and 20 digits; either case), as `UUID(uuidString:)`
    /// does; `nil` for anything else.
    package init?(text utf8: UnsafeBufferPointer<UInt8>) {
        guard utf8.count == 36 else { return nil }
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &bytes) { out -> Bool in
            var position = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    guard utf8[position] == 0x2D else { return false }
                    position += 1
                }
                guard let high = Self.hexValue(utf8[position]), let low = Self.hexValue(utf8[position + 1]) else { return false }
                out[index] = high << 4 | low
                position += 2
            }
            return true
        }
        guard parsed else { return nil }
        self.init(uuid: bytes)
    }

    /// ``init(text:)-(UnsafeBufferPointer<UInt8>)`` for a string.
    package init?(text: String) {
        var text = text
        guard let parsed = text.withUTF8({ UUID(text: $0) }) else { return nil }
        self = parsed
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
