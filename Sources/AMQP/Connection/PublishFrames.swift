import CRabbitMQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The frames of queued publishes, encoded back to back in one buffer so that a batch of publishes costs one `send`
/// instead of the three per message `amqp_basic_publish` makes (method, content header, body).
///
/// librabbitmq-c encodes the method arguments and the properties (`amqp_encode_method` and
/// `amqp_encode_properties`, exactly what `amqp_basic_publish` uses); this type adds the frame headers and ends and
/// splits the body by the negotiated `frame_max`, as the library does. The connection thread writes the buffer
/// (``ConnectionDriver/flushPublishFrames()``) before any other write, so frames reach the socket in the order they
/// were produced. Plain TCP only: with TLS the library owns the encryption, and publishes go through it one by one.
/// Thread-confined to the connection thread.
final class PublishFrames: @unchecked Sendable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Bytes encoded and not yet written.
    private(set) var count = 0
    /// Bytes of the front already written (a flush interrupted by a full socket buffer resumes from here).
    var written = 0

    /// Frame header (type, channel, payload size) and end octet.
    private static let headerSize = 7
    private static let footerSize = 1
    private static let frameEnd: UInt8 = 0xCE
    /// The `basic` class (60), whose content header a publish carries.
    private static let basicClass: UInt16 = 60

    /// The buffer's size at rest; a batch with larger messages grows it, and ``reset()`` gives the excess back.
    private static let restingCapacity = 64 * 1_024

    /// `nil` when the memory cannot be had (the connection then publishes through librabbitmq-c).
    init?() {
        guard let memory = malloc(Self.restingCapacity) else { return nil }
        base = memory
        capacity = Self.restingCapacity
    }

    deinit { free(base) }

    var isEmpty: Bool { count == written }

    /// Forgets everything (written or given up on), and shrinks a buffer a large message grew back to its resting
    /// size, so one big publish does not hold its memory for the connection's life.
    func reset() {
        count = 0
        written = 0
        if capacity > 16 * Self.restingCapacity, let memory = realloc(base, Self.restingCapacity) {
            base = memory
            capacity = Self.restingCapacity
        }
    }

    /// Appends the frames of one `basic.publish` on `channel`. Returns `AMQP_STATUS_OK`, or the library's status when
    /// the method or the properties cannot be encoded (a string over 255 bytes, a table that does not fit in a
    /// frame), or `AMQP_STATUS_NO_MEMORY` when the buffer cannot grow to hold the message; the buffer is then as it
    /// was.
    func append(
        channel: UInt16, method: inout amqp_basic_publish_t, properties: inout amqp_basic_properties_t,
        body: UnsafeRawBufferPointer, frameMax: Int
    ) -> Int32 {
        let start = count
        let payloadLimit = frameMax - Self.headerSize - Self.footerSize
        let frames = 2 + (body.count + payloadLimit - 1) / payloadLimit
        // Room for the method and header frames at their largest, and the body with its frame overhead.
        guard reserve(2 * frameMax + body.count + frames * (Self.headerSize + Self.footerSize)) else {
            return AMQP_STATUS_NO_MEMORY.rawValue
        }
        // Method frame: class and method id, then the arguments.
        var payload = 4
        store32(CR_BASIC_PUBLISH_METHOD, at: count + Self.headerSize)
        let methodLength = amqp_encode_method(
            CR_BASIC_PUBLISH_METHOD, &method,
            amqp_bytes_t(len: payloadLimit - payload, bytes: base + count + Self.headerSize + payload))
        guard methodLength >= 0 else { return methodLength }
        payload += Int(methodLength)
        finishFrame(type: UInt8(CR_FRAME_METHOD), channel: channel, payload: payload)

        // Content header: class, weight, body size, then the property flags and values.
        store16(Self.basicClass, at: count + Self.headerSize)
        store16(0, at: count + Self.headerSize + 2)
        store64(UInt64(body.count), at: count + Self.headerSize + 4)
        payload = 12
        let propertiesLength = amqp_encode_properties(
            Self.basicClass, &properties,
            amqp_bytes_t(len: payloadLimit - payload, bytes: base + count + Self.headerSize + payload))
        guard propertiesLength >= 0 else {
            count = start
            return propertiesLength
        }
        payload += Int(propertiesLength)
        finishFrame(type: UInt8(CR_FRAME_HEADER), channel: channel, payload: payload)

        // Body frames of at most frame_max, none for an empty body.
        var offset = 0
        while offset < body.count {
            let chunk = min(payloadLimit, body.count - offset)
            if let source = body.baseAddress {
                (base + count + Self.headerSize).copyMemory(from: source + offset, byteCount: chunk)
            }
            finishFrame(type: UInt8(CR_FRAME_BODY), channel: channel, payload: chunk)
            offset += chunk
        }
        return AMQP_STATUS_OK.rawValue
    }

    /// Writes the frame header for a payload already in place at `count + headerSize`, and the end octet.
    private func finishFrame(type: UInt8, channel: UInt16, payload: Int) {
        base.storeBytes(of: type, toByteOffset: count, as: UInt8.self)
        store16(channel, at: count + 1)
        store32(UInt32(payload), at: count + 3)
        base.storeBytes(of: Self.frameEnd, toByteOffset: count + Self.headerSize + payload, as: UInt8.self)
        count += Self.headerSize + payload + Self.footerSize
    }

    /// Makes room for `more` bytes after `count`; `false` when the memory cannot be had (nothing changes).
    private func reserve(_ more: Int) -> Bool {
        guard count + more > capacity else { return true }
        var grown = capacity * 2
        while grown < count + more { grown *= 2 }
        guard let memory = realloc(base, grown) else { return false }
        base = memory
        capacity = grown
        return true
    }

    private func store16(_ value: UInt16, at offset: Int) {
        base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    private func store32(_ value: UInt32, at offset: Int) {
        base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    private func store64(_ value: UInt64, at offset: Int) {
        base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }
}
