"""A minimal AMQP 0-9-1 client (stdlib only) for the fault harness: it sends what no well-behaved client sends
(hostile headers, oversized or invalid bodies) straight into a queue, with publisher confirms, and it reads what
waits in a queue (the dead letters and their reason headers) without taking it away.

Only what the harness needs: PLAIN login, one channel, confirm.select, basic.publish, wait for the confirm;
basic.get without ack, then closing the connection (the broker puts every message back)."""

import socket
import struct

FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT = 1, 2, 3, 8
FRAME_END = 0xCE


def shortstr(text):
    data = text.encode() if isinstance(text, str) else text
    if len(data) > 255:
        raise ValueError("shortstr over 255 bytes")
    return struct.pack("!B", len(data)) + data


def longstr(data):
    data = data.encode() if isinstance(data, str) else data
    return struct.pack("!I", len(data)) + data


def field_value(value):
    """Encodes a (type, value) pair; type is the AMQP field type letter (RabbitMQ's dialect)."""
    kind, raw = value
    if kind == "S":
        return b"S" + longstr(raw)
    if kind == "I":
        return b"I" + struct.pack("!i", raw)
    if kind == "l":
        return b"l" + struct.pack("!q", raw)
    if kind == "T":
        return b"T" + struct.pack("!Q", raw)
    if kind == "d":
        return b"d" + struct.pack("!d", raw)
    if kind == "t":
        return b"t" + struct.pack("!B", 1 if raw else 0)
    if kind == "V":
        return b"V"
    if kind == "x":
        return b"x" + longstr(raw)
    if kind == "F":
        return b"F" + table(raw)
    if kind == "A":
        body = b"".join(field_value(item) for item in raw)
        return b"A" + struct.pack("!I", len(body)) + body
    raise ValueError("unknown field type " + kind)


def table(entries):
    """entries: list of (name, (type, value)), kept in order (duplicates allowed on purpose)."""
    body = b"".join(shortstr(name) + field_value(value) for name, value in entries)
    return struct.pack("!I", len(body)) + body


class Reader:
    """Decodes AMQP values from a buffer (RabbitMQ's field types)."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, count):
        if self.at + count > len(self.data):
            raise ValueError("truncated AMQP value")
        chunk = self.data[self.at:self.at + count]
        self.at += count
        return chunk

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def shortstr(self):
        return self.take(self.unpack("!B"))

    def longstr(self):
        return self.take(self.unpack("!I"))

    def value(self):
        kind = self.take(1)
        simple = {b"t": "!B", b"b": "!b", b"B": "!B", b"s": "!h", b"u": "!H", b"I": "!i", b"i": "!I", b"l": "!q",
                  b"L": "!Q", b"f": "!f", b"d": "!d", b"T": "!Q"}
        if kind in simple:
            return self.unpack(simple[kind])
        if kind == b"D":
            scale = self.unpack("!B")
            return self.unpack("!i") / (10 ** scale)
        if kind in (b"S", b"x"):
            return self.longstr()
        if kind == b"F":
            return self.table()
        if kind == b"A":
            inner = Reader(self.longstr())
            items = []
            while inner.at < len(inner.data):
                items.append(inner.value())
            return items
        if kind == b"V":
            return None
        raise ValueError("unknown field type %r" % kind)

    def table(self):
        inner = Reader(self.longstr())
        entries = {}
        while inner.at < len(inner.data):
            name = inner.shortstr().decode(errors="replace")
            entries[name] = inner.value()
        return entries


def text(value):
    """A header value as text (AMQP long strings arrive as bytes)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


class Connection:
    def __init__(self, host, port, user="guest", password="guest", timeout=10.0, name="faults-poison"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        self._expect(0, 10, 10)  # connection.start
        props = table([("product", ("S", "eventbus-faults")), ("connection_name", ("S", name))])
        response = b"\x00" + user.encode() + b"\x00" + password.encode()
        self._method(0, 10, 11, props + shortstr("PLAIN") + longstr(response) + shortstr("en_US"))
        args = self._expect(0, 10, 30)  # connection.tune
        channel_max, frame_max, _ = struct.unpack("!HIH", args[:8])
        self.frame_max = frame_max or 131072
        self._method(0, 10, 31, struct.pack("!HIH", channel_max, self.frame_max, 0))
        self._method(0, 10, 40, shortstr("/") + shortstr("") + b"\x00")
        self._expect(0, 10, 41)
        self._method(1, 20, 10, shortstr(""))
        self._expect(1, 20, 11)
        self._method(1, 85, 10, b"\x00")
        self._expect(1, 85, 11)
        self.next_tag = 1

    def _frame(self, kind, channel, payload):
        self.sock.sendall(struct.pack("!BHI", kind, channel, len(payload)) + payload + bytes([FRAME_END]))

    def _method(self, channel, class_id, method_id, args):
        self._frame(FRAME_METHOD, channel, struct.pack("!HH", class_id, method_id) + args)

    def _read_exact(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data

    def _read_frame(self):
        kind, channel, size = struct.unpack("!BHI", self._read_exact(7))
        payload = self._read_exact(size)
        if self._read_exact(1)[0] != FRAME_END:
            raise ConnectionError("bad frame end")
        return kind, channel, payload

    def _expect(self, channel, class_id, method_id):
        while True:
            kind, got_channel, payload = self._read_frame()
            if kind == FRAME_HEARTBEAT:
                continue
            if kind != FRAME_METHOD:
                continue
            got_class, got_method = struct.unpack("!HH", payload[:4])
            if (got_class, got_method) in ((10, 50), (20, 40)):
                code = struct.unpack("!H", payload[4:6])[0]
                text = payload[7:7 + payload[6]].decode(errors="replace")
                raise ConnectionError("closed by the broker: %d %s" % (code, text))
            if (got_channel, got_class, got_method) == (channel, class_id, method_id):
                return payload[4:]

    def publish(self, routing_key, body, exchange="", headers=None, message_id=None, type_name=None,
                content_type="application/json"):
        """Publishes persistently and waits for the broker's confirm; returns True on ack, False on nack."""
        self._method(1, 60, 40, struct.pack("!H", 0) + shortstr(exchange) + shortstr(routing_key) + b"\x00")
        flags = 0
        props = b""
        # Property order is fixed by the spec: content-type, content-encoding, headers, delivery-mode, ...
        if content_type is not None:
            flags |= 1 << 15
            props += shortstr(content_type)
        if headers is not None:
            flags |= 1 << 13
            props += table(headers)
        flags |= 1 << 12
        props += struct.pack("!B", 2)
        if message_id is not None:
            flags |= 1 << 7
            props += shortstr(message_id)
        if type_name is not None:
            flags |= 1 << 5
            props += shortstr(type_name)
        self._frame(FRAME_HEADER, 1, struct.pack("!HHQH", 60, 0, len(body), flags) + props)
        step = self.frame_max - 8
        for start in range(0, len(body), step):
            self._frame(FRAME_BODY, 1, body[start:start + step])
        tag = self.next_tag
        self.next_tag += 1
        while True:
            kind, channel, payload = self._read_frame()
            if kind != FRAME_METHOD:
                continue
            class_id, method_id = struct.unpack("!HH", payload[:4])
            if (class_id, method_id) in ((10, 50), (20, 40)):
                raise ConnectionError("closed by the broker while publishing")
            if class_id == 60 and method_id in (80, 120):
                acked_tag = struct.unpack("!Q", payload[4:12])[0]
                if acked_tag >= tag:
                    return method_id == 80

    def peek(self, queue, limit=100000, body_limit=4096):
        """Every message waiting in `queue` (at most `limit`), as dicts with message_id, headers (a dict) and the
        first `body_limit` bytes of the body. Gets them without acknowledging: they go back to the queue, in order,
        when the connection closes, so call this last on a connection and close it."""
        messages = []
        while len(messages) < limit:
            self._method(1, 60, 70, struct.pack("!H", 0) + shortstr(queue) + b"\x00")
            while True:
                kind, channel, payload = self._read_frame()
                if kind != FRAME_METHOD:
                    continue
                class_id, method_id = struct.unpack("!HH", payload[:4])
                if (class_id, method_id) in ((10, 50), (20, 40)):
                    raise ConnectionError("closed by the broker while reading %s" % queue)
                if class_id == 60 and method_id in (71, 72):
                    break
            if method_id == 72:  # get-empty
                return messages
            kind, _, header = self._read_frame()
            if kind != FRAME_HEADER:
                raise ConnectionError("expected a content header after basic.get-ok")
            reader = Reader(header)
            reader.take(4)
            size = reader.unpack("!Q")
            flags = reader.unpack("!H")
            properties = {}
            # Property order is fixed by the spec; each flag bit says whether its property is present.
            layout = [(15, "content_type", "s"), (14, "content_encoding", "s"), (13, "headers", "F"),
                      (12, "delivery_mode", "B"), (11, "priority", "B"), (10, "correlation_id", "s"),
                      (9, "reply_to", "s"), (8, "expiration", "s"), (7, "message_id", "s"), (6, "timestamp", "Q"),
                      (5, "type", "s"), (4, "user_id", "s"), (3, "app_id", "s"), (2, "cluster_id", "s")]
            for bit, name, kind_of in layout:
                if not flags & (1 << bit):
                    continue
                if kind_of == "s":
                    properties[name] = reader.shortstr().decode(errors="replace")
                elif kind_of == "F":
                    properties[name] = reader.table()
                else:
                    properties[name] = reader.unpack("!" + kind_of)
            body, received = b"", 0
            while received < size:
                kind, _, chunk = self._read_frame()
                if kind != FRAME_BODY:
                    continue
                received += len(chunk)
                if len(body) < body_limit:
                    body += chunk[:body_limit - len(body)]
            messages.append({"message_id": properties.get("message_id"), "type": properties.get("type"),
                             "headers": properties.get("headers") or {}, "body": body, "size": size})
        return messages

    def close(self):
        try:
            self._method(0, 10, 50, struct.pack("!H", 200) + shortstr("bye") + struct.pack("!HH", 0, 0))
            self._expect(0, 10, 51)
        except (OSError, ConnectionError):
            pass
        self.sock.close()
