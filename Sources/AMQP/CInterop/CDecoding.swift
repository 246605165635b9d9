import CRabbitMQ
import Foundation

/// Copies C values the library decoded into Swift values. The C memory belongs to the connection's frame pool
/// and is recycled after the frame is handled, so nothing here keeps a pointer.
enum CDecoding {
    static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let base = bytes.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base, count: bytes.len), as: UTF8.self)
    }

    /// `bytes` as a `String` when they are valid UTF-8, else `nil`. ASCII (nearly every header value) takes the
    /// specialized `String(decoding:as:)`: `String(validating:as:)` is generic and unspecialized, two generic
    /// metadata lookups per call.
    static func validString(_ bytes: UnsafeRawBufferPointer) -> String? {
        if isASCII(bytes) { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Whether every byte is below 0x80, eight at a time.
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            high |= base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            high |= UInt64(bytes[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    static func data(_ bytes: amqp_bytes_t) -> Data {
        guard bytes.len > 0, let base = bytes.bytes else { return Data() }
        return Data(bytes: base, count: bytes.len)
    }

    static func byteArray(_ bytes: amqp_bytes_t) -> [UInt8] {
        guard bytes.len > 0, let base = bytes.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: bytes.len))
    }

    static func table(_ table: amqp_table_t) -> AMQPTable {
        guard table.num_entries > 0, let entries = table.entries else { return [:] }
        // `init(minimumCapacity:)`: `reserveCapacity(_:)` is not specialized (a generic metadata lookup per call).
        var result = AMQPTable(minimumCapacity: Int(table.num_entries))
        for index in 0..<Int(table.num_entries) {
            let entry = entries[index]
            result[string(entry.key)] = fieldValue(entry.value)
        }
        return result
    }

    /// A message's header table, its names reused from `recent` when the previous message had the same ones. When
    /// every name is one of `recent`'s template's (in any order, none twice), the table is a copy of the template with
    /// the values replaced: no name is hashed.
    static func headers(_ table: amqp_table_t, recent: inout RecentPropertyStrings) -> AMQPTable {
        guard table.num_entries > 0, let entries = table.entries else { return [:] }
        let count = Int(table.num_entries)
        if recent.templateSlots != 0, count == recent.headerTemplate.count {
            var result = recent.headerTemplate
            var seen: UInt32 = 0
            var index = 0
            while index < count {
                let entry = entries[index]
                let (_, slot) = recent.headerName(entry.key, at: index)
                guard let slot, recent.templateSlots & (1 << UInt32(slot)) != 0, seen & (1 << UInt32(slot)) == 0,
                      let position = recent.templateIndices[slot]
                else { break }
                seen |= 1 << UInt32(slot)
                result.values[position] = value(entry.value, slot: slot, recent: &recent)
                index += 1
            }
            if index == count { return result }
        }
        var result = AMQPTable(minimumCapacity: count)
        var slots: UInt32 = 0
        for index in 0..<count {
            let entry = entries[index]
            let (name, slot) = recent.headerName(entry.key, at: index)
            if let slot {
                slots |= 1 << UInt32(slot)
                result[name] = value(entry.value, slot: slot, recent: &recent)
            } else {
                result[name] = fieldValue(entry.value)
            }
        }
        // Every name in a slot of its own (no name twice, none past the slots): the next message may start from it.
        if slots.nonzeroBitCount == count, result.count == count { recent.keepTemplate(result, slots: slots) }
        return result
    }

    /// A header value under the name in `slot`: text reused from `recent` when it repeats.
    private static func value(_ field: amqp_field_value_t, slot: Int, recent: inout RecentPropertyStrings) -> AMQPFieldValue {
        if field.kind == UInt8(truncatingIfNeeded: AMQP_FIELD_KIND_UTF8.rawValue) {
            return recent.headerText(field.value.bytes, slot: slot)
        }
        return fieldValue(field)
    }

    static func fieldValue(_ field: amqp_field_value_t) -> AMQPFieldValue {
        func kind(_ k: amqp_field_value_kind_t) -> UInt8 { UInt8(truncatingIfNeeded: k.rawValue) }
        switch field.kind {
        case kind(AMQP_FIELD_KIND_BOOLEAN): return .bool(field.value.boolean != 0)
        case kind(AMQP_FIELD_KIND_I8): return .int8(field.value.i8)
        case kind(AMQP_FIELD_KIND_U8): return .uint8(field.value.u8)
        case kind(AMQP_FIELD_KIND_I16): return .int16(field.value.i16)
        case kind(AMQP_FIELD_KIND_U16): return .uint16(field.value.u16)
        case kind(AMQP_FIELD_KIND_I32): return .int32(field.value.i32)
        case kind(AMQP_FIELD_KIND_U32): return .uint32(field.value.u32)
        case kind(AMQP_FIELD_KIND_I64): return .int64(field.value.i64)
        case kind(AMQP_FIELD_KIND_U64): return .uint64(field.value.u64)
        case kind(AMQP_FIELD_KIND_F32): return .float(field.value.f32)
        case kind(AMQP_FIELD_KIND_F64): return .double(field.value.f64)
        case kind(AMQP_FIELD_KIND_DECIMAL):
            return .decimal(AMQPDecimal(scale: field.value.decimal.decimals, value: field.value.decimal.value))
        case kind(AMQP_FIELD_KIND_UTF8):
            let raw = field.value.bytes
            guard raw.len > 0, let base = raw.bytes else { return .string("") }
            let buffer = UnsafeRawBufferPointer(start: base, count: raw.len)
            if let text = validString(buffer) { return .string(text) }
            return .bytes(Array(buffer))
        case kind(AMQP_FIELD_KIND_BYTES): return .bytes(byteArray(field.value.bytes))
        case kind(AMQP_FIELD_KIND_TIMESTAMP):
            return .timestamp(Date(timeIntervalSince1970: TimeInterval(field.value.u64)))
        case kind(AMQP_FIELD_KIND_TABLE): return .table(table(field.value.table))
        case kind(AMQP_FIELD_KIND_ARRAY):
            let array = field.value.array
            guard array.num_entries > 0, let entries = array.entries else { return .array([]) }
            return .array((0..<Int(array.num_entries)).map { fieldValue(entries[$0]) })
        default:
            return .void
        }
    }

    static func properties(_ c: amqp_basic_properties_t) -> AMQPProperties {
        var fresh = RecentPropertyStrings()
        return properties(c, recent: &fresh)
    }

    /// A message's properties, with the strings that repeat from message to message reused from `recent`.
    static func properties(_ c: amqp_basic_properties_t, recent: inout RecentPropertyStrings) -> AMQPProperties {
        let flags = c._flags
        var p = AMQPProperties()
        if flags & CR_BASIC_CONTENT_TYPE_FLAG != 0 { p.contentType = recent.contentType.decode(c.content_type) }
        if flags & CR_BASIC_CONTENT_ENCODING_FLAG != 0 { p.contentEncoding = string(c.content_encoding) }
        if flags & CR_BASIC_HEADERS_FLAG != 0 { p.headers = headers(c.headers, recent: &recent) }
        if flags & CR_BASIC_DELIVERY_MODE_FLAG != 0 { p.deliveryMode = .init(rawValue: c.delivery_mode) }
        if flags & CR_BASIC_PRIORITY_FLAG != 0 { p.priority = c.priority }
        if flags & CR_BASIC_CORRELATION_ID_FLAG != 0 { p.correlationID = string(c.correlation_id) }
        if flags & CR_BASIC_REPLY_TO_FLAG != 0 { p.replyTo = string(c.reply_to) }
        if flags & CR_BASIC_EXPIRATION_FLAG != 0 { p.expiration = string(c.expiration) }
        if flags & CR_BASIC_MESSAGE_ID_FLAG != 0 { p.messageID = string(c.message_id) }
        if flags & CR_BASIC_TIMESTAMP_FLAG != 0 { p.timestamp = Date(timeIntervalSince1970: TimeInterval(c.timestamp)) }
        if flags & CR_BASIC_TYPE_FLAG != 0 { p.type = recent.type.decode(c.type) }
        if flags & CR_BASIC_USER_ID_FLAG != 0 { p.userID = string(c.user_id) }
        if flags & CR_BASIC_APP_ID_FLAG != 0 { p.appID = recent.appID.decode(c.app_id) }
        if flags & CR_BASIC_CLUSTER_ID_FLAG != 0 { p.clusterID = string(c.cluster_id) }
        return p
    }

    /// A library status code in words.
    static func statusText(_ status: Int32) -> String {
        guard let text = amqp_error_string2(status) else { return "status \(status)" }
        return String(cString: text)
    }
}
