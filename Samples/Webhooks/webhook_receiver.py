#!/usr/bin/env python3
"""A tiny webhook endpoint for the gateway demo: answers Event Grid's validation handshake, checks the
webhook-signature header when WEBHOOK_SECRET is set, and prints every event it receives.

    WEBHOOK_SECRET=... python3 Samples/Webhooks/webhook_receiver.py 5190
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("WEBHOOK_SECRET", "")


def signature_ok(header, body):
    """t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">, at most 5 minutes old."""
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    try:
        stamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - stamp) > 300:
        return False
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0") or 0)
        body = self.rfile.read(min(length, 16 * 1024 * 1024))
        if SECRET and not signature_ok(self.headers.get("webhook-signature"), body):
            print("receiver: refused a request with a bad signature", flush=True)
            self.send_response(401)
            self.end_headers()
            return
        payload = json.loads(body or b"null")
        if self.headers.get("aeg-event-type") == "SubscriptionValidation":
            code = payload[0]["data"]["validationCode"]
            answer = json.dumps({"validationResponse": code}).encode()
            print("receiver: validation handshake answered", flush=True)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        for event in payload if isinstance(payload, list) else [payload]:
            kind = event.get("type") or event.get("eventType")
            print(f"receiver: {kind} {event.get('id')} subject={event.get('subject')} data={json.dumps(event.get('data'))}", flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5190
    print(f"receiver: listening on 127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
