import CRabbitMQ
import Foundation

/// Memory for the C structures one library call needs (strings, tables, properties), freed all at once when
/// the arena is released. librabbitmq-c keeps the pointers it is given only for the duration of the call.
///
/// The connection thread keeps one arena and ``reset()``s it before each call, so encoding a publish or a
/// request allocates nothing once the arena has grown to fit. An arena is used by one thread at a time, hence
/// `@unchecked Sendable`.
final class CArena: @unchecked Sendable {
    private var chunks: [(pointer: UnsafeMutableRawPointer, size: Int)] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0

    deinit {
        for chunk in chunks { free(chunk.pointer) }
    }

    /// Makes all the memory reusable (everything handed out before is invalid). Keeps one chunk as large as
    /// everything allocated so far, so the next use of the same size allocates nothing.
    func reset() {
        if chunks.count > 1 {
            let total = chunks.reduce(0) { $0 + $1.size }
            for chunk in chunks { free(chunk.pointer) }
            chunks.removeAll(keepingCapacity: true)
            cursor = nil
            remaining = 0
            _ = allocate(total)
        }
        guard let first = chunks.first else { return }
        cursor = first.pointer
        remaining = first.size
    }

    /// Bump-allocates `count` bytes aligned to 8.
    func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        let size = (max(count, 1) + 7) & ~7
        if size > remaining {
            let chunkSize = max(size, 1_024)
            guard let chunk = malloc(chunkSize) else {
                // Out of memory (sizes here are bounded: short strings and tables that fit in one frame): nothing
                // sensible is left to do for this process.
                fatalError("malloc(\(chunkSize)) failed")
            }
            chunks.append((chunk, chunkSize))
            cursor = chunk
            remaining = chunkSize
        }
        let pointer = cursor!
        cursor = pointer + size
        remaining -= size
        return pointer
    }

    func bytes(_ text: String) -> amqp_bytes_t {
        var text = text
        return text.withUTF8 { utf8 in bytes(UnsafeRawBufferPointer(utf8)) }
    }

    func bytes(_ buffer: UnsafeRawBufferPointer) -> amqp_bytes_t {
        guard buffer.count > 0, let base = buffer.baseAddress else { return amqp_bytes_t(len: 0, bytes: nil) }
        let pointer = allocate(buffer.count)
        pointer.copyMemory(from: base, byteCount: buffer.count)
        return amqp_bytes_t(len: buffer.count, bytes: pointer)
    }

    func bytes(_ array: [UInt8]) -> amqp_bytes_t {
        array.withUnsafeBytes { bytes($0) }
    }

    /// A NUL-terminated copy, for the few calls that take C strings.
    func cString(_ text: String) -> UnsafePointer<CChar> {
        let utf8 = Array(text.utf8)
        let pointer = allocate(utf8.count + 1).bindMemory(to: CChar.self, capacity: utf8.count + 1)
        utf8.withUnsafeBytes { source in
            if let base = source.baseAddress { UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: utf8.count) }
        }
        pointer[utf8.count] = 0
        return UnsafePointer(pointer)
    }

    func table(_ table: AMQPTable?) -> amqp_table_t {
        guard let table, !table.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(MemoryLayout<amqp_table_entry_t>.stride * table.count)
            .bindMemory(to: amqp_table_entry_t.self, capacity: table.count)
        // In the dictionary's order: a table's entries are unordered in AMQP, and sorting the keys (then looking each
        // up again) cost a publish about a microsecond.
        for (index, entry) in table.enumerated() {
            (entries + index).initialize(to: amqp_table_entry_t(key: bytes(entry.key), value: fieldValue(entry.value)))
        }
        // Clamped, not trapped: a table of 2^31 entries cannot fit in a frame, so encoding fails with a typed error.
        return amqp_table_t(num_entries: Int32(clamping: table.count), entries: entries)
    }

    func fieldValue(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        func kind(_ k: amqp_field_value_kind_t) -> UInt8 { UInt8(truncatingIfNeeded: k.rawValue) }
        switch value {
        case .bool(let v): field.kind = kind(AMQP_FIELD_KIND_BOOLEAN); field.value.boolean = v ? 1 : 0
        case .int8(let v): field.kind = kind(AMQP_FIELD_KIND_I8); field.value.i8 = v
        case .uint8(let v): field.kind = kind(AMQP_FIELD_KIND_U8); field.value.u8 = v
        case .int16(let v): field.kind = kind(AMQP_FIELD_KIND_I16); field.value.i16 = v
        case .uint16(let v): field.kind = kind(AMQP_FIELD_KIND_U16); field.value.u16 = v
        case .int32(let v): field.kind = kind(AMQP_FIELD_KIND_I32); field.value.i32 = v
        case .uint32(let v): field.kind = kind(AMQP_FIELD_KIND_U32); field.value.u32 = v
        case .int64(let v): field.kind = kind(AMQP_FIELD_KIND_I64); field.value.i64 = v
        case .uint64(let v): field.kind = kind(AMQP_FIELD_KIND_U64); field.value.u64 = v
        case .float(let v): field.kind = kind(AMQP_FIELD_KIND_F32); field.value.f32 = v
        case .double(let v): field.kind = kind(AMQP_FIELD_KIND_F64); field.value.f64 = v
        case .decimal(let v):
            field.kind = kind(AMQP_FIELD_KIND_DECIMAL)
            field.value.decimal = amqp_decimal_t(decimals: v.scale, value: v.value)
        case .string(let v): field.kind = kind(AMQP_FIELD_KIND_UTF8); field.value.bytes = bytes(v)
        case .bytes(let v): field.kind = kind(AMQP_FIELD_KIND_BYTES); field.value.bytes = bytes(v)
        case .timestamp(let v):
            field.kind = kind(AMQP_FIELD_KIND_TIMESTAMP)
            field.value.u64 = Self.wireTimestamp(v)
        case .table(let v): field.kind = kind(AMQP_FIELD_KIND_TABLE); field.value.table = table(v)
        case .array(let values):
            field.kind = kind(AMQP_FIELD_KIND_ARRAY)
            let entries = allocate(MemoryLayout<amqp_field_value_t>.stride * max(values.count, 1))
                .bindMemory(to: amqp_field_value_t.self, capacity: max(values.count, 1))
            for (index, element) in values.enumerated() { (entries + index).initialize(to: fieldValue(element)) }
            field.value.array = amqp_array_t(num_entries: Int32(clamping: values.count), entries: values.isEmpty ? nil : entries)
        case .void: field.kind = kind(AMQP_FIELD_KIND_VOID)
        }
        return field
    }

    /// A date as AMQP's timestamp: whole seconds since 1970, saturated at both ends instead of trapping. NaN and dates
    /// before 1970 give 0, 2^64 seconds and later `UInt64.max`, so a delivery's `UInt64.max` (decoded as 2^64) goes
    /// out again unchanged.
    static func wireTimestamp(_ date: Date) -> UInt64 {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds > 0 else { return 0 }  // also NaN
        guard seconds < 18_446_744_073_709_551_616.0 else { return .max }  // 2^64 and +infinity
        return UInt64(seconds)
    }

    func properties(_ p: AMQPProperties) -> amqp_basic_properties_t {
        var c = amqp_basic_properties_t()
        var flags: amqp_flags_t = 0
        if let v = p.contentType { c.content_type = bytes(v); flags |= CR_BASIC_CONTENT_TYPE_FLAG }
        if let v = p.contentEncoding { c.content_encoding = bytes(v); flags |= CR_BASIC_CONTENT_ENCODING_FLAG }
        if let v = p.headers { c.headers = table(v); flags |= CR_BASIC_HEADERS_FLAG }
        if let v = p.deliveryMode { c.delivery_mode = v.rawValue; flags |= CR_BASIC_DELIVERY_MODE_FLAG }
        if let v = p.priority { c.priority = v; flags |= CR_BASIC_PRIORITY_FLAG }
        if let v = p.correlationID { c.correlation_id = bytes(v); flags |= CR_BASIC_CORRELATION_ID_FLAG }
        if let v = p.replyTo { c.reply_to = bytes(v); flags |= CR_BASIC_REPLY_TO_FLAG }
        if let v = p.expiration { c.expiration = bytes(v); flags |= CR_BASIC_EXPIRATION_FLAG }
        if let v = p.messageID { c.message_id = bytes(v); flags |= CR_BASIC_MESSAGE_ID_FLAG }
        if let v = p.timestamp {
            c.timestamp = Self.wireTimestamp(v)
            flags |= CR_BASIC_TIMESTAMP_FLAG
        }
        if let v = p.type { c.type = bytes(v); flags |= CR_BASIC_TYPE_FLAG }
        if let v = p.userID { c.user_id = bytes(v); flags |= CR_BASIC_USER_ID_FLAG }
        if let v = p.appID { c.app_id = bytes(v); flags |= CR_BASIC_APP_ID_FLAG }
        if let v = p.clusterID { c.cluster_id = bytes(v); flags |= CR_BASIC_CLUSTER_ID_FLAG }
        c._flags = flags
        return c
    }
}
