"""A user-space TCP fault proxy (in the spirit of Toxiproxy; the kernel here has no netem) between a service and the
broker, on loopback. Runs an asyncio loop in a thread; the harness switches its mode while traffic flows:

- "pass": forward both ways;
- "latency": every chunk, both ways, is delivered `latency` seconds after it was read (order kept, pipelined);
- "stall": nothing goes from the broker to the client on connections open now; the sockets stay open (the
  half-dead connection only heartbeats detect); new connections pass;
- "stall-up": the same from the client to the broker (the client's acks and publishes never arrive);
- "cut": every open connection gets half of its next broker-to-client chunk, then both sockets close (a drop
  mid-frame);
- "blackhole": everything read is discarded, on open and new connections alike; `restore()` then closes the
  connections that lived through it, as a peer's TCP stack eventually would.
"""

import asyncio
import threading
import time


class FaultProxy:
    def __init__(self, listen_port, target_port, host="127.0.0.1"):
        self.listen_port, self.target_port, self.host = listen_port, target_port, host
        self.mode = "pass"
        self.latency = 0.05
        self.links = set()          # (client_writer, broker_writer, info) of open connections
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the fault proxy did not start")

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._accept, self.host, self.listen_port, reuse_address=True))
        self.ready.set()
        self.loop.run_forever()

    def call(self, function):
        """Runs function() on the proxy's loop and returns its result."""
        done = threading.Event()
        box = {}

        def run():
            try:
                box["value"] = function()
            finally:
                done.set()
        self.loop.call_soon_threadsafe(run)
        done.wait(10)
        return box.get("value")

    def set_mode(self, mode):
        def apply():
            self.mode = mode
            for link in list(self.links):
                link["modes_seen"].add(mode)
                if mode == "stall":
                    link["stalled"] = True
                if mode == "stall-up":
                    link["stalled_up"] = True
                if mode == "cut":
                    link["cut"] = True
            return len(self.links)
        return self.call(apply)

    def restore(self):
        """Back to "pass"; connections that lived through a black hole are closed."""
        def apply():
            self.mode = "pass"
            closed = 0
            for link in list(self.links):
                link["stalled"] = link["stalled_up"] = False
                if "blackhole" in link["modes_seen"]:
                    self._close(link)
                    closed += 1
            return closed
        return self.call(apply)

    def connections(self):
        return self.call(lambda: len(self.links))

    def stop(self):
        def shutdown():
            self.server.close()
            for link in list(self.links):
                self._close(link)
            self.loop.stop()
        self.loop.call_soon_threadsafe(shutdown)
        self.thread.join(timeout=10)

    def _close(self, link):
        for writer in (link["client"], link["broker"]):
            try:
                writer.transport.abort()
            except Exception:  # noqa: BLE001 - already closed
                pass
        self.links.discard(link)

    async def _accept(self, client_reader, client_writer):
        try:
            broker_reader, broker_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        link = {"client": client_writer, "broker": broker_writer, "stalled": False, "stalled_up": False, "cut": False,
                "modes_seen": {self.mode}}
        link = _Link(link)
        self.links.add(link)
        await asyncio.gather(self._pump(link, client_reader, broker_writer, upstream=True),
                             self._pump(link, broker_reader, client_writer, upstream=False),
                             return_exceptions=True)
        self._close(link)

    async def _pump(self, link, reader, writer, upstream):
        pending = asyncio.Queue()
        sender = asyncio.ensure_future(self._send(link, pending, writer))
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self.mode == "blackhole":
                    continue
                if not upstream and link["cut"]:
                    writer.write(data[:max(1, len(data) // 2)])
                    await writer.drain()
                    self._close(link)
                    break
                if (link["stalled_up"] if upstream else link["stalled"]):
                    link["held"].append(data)   # kept, never sent: the client hears nothing more
                    continue
                due = time.monotonic() + (self.latency if self.mode == "latency" else 0.0)
                await pending.put((due, data))
        finally:
            await pending.put((0, None))
            try:
                await asyncio.wait_for(sender, 5)
            except Exception:  # noqa: BLE001
                pass
            self._close(link)

    async def _send(self, link, pending, writer):
        while True:
            due, data = await pending.get()
            if data is None:
                return
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()


class _Link(dict):
    """A connection's state; hashable by identity so it can live in a set."""

    def __init__(self, values):
        super().__init__(values)
        self["held"] = []

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other
