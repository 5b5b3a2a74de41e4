#!/usr/bin/env python3
"""A demo webhook receiver for hookgate: prints what reaches it and answers
200. It stands in for the customer's application in the demo and in the
compose file. Standard library only.

Each response goes out in one write (status line, headers and body
together) on a socket with TCP_NODELAY: written in two sends, the body
waited for the ACK of the header, which the gateway delays by up to 40 ms,
and every forward's logged latency carried that wait."""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY on every accepted socket

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        summary = {
            "path": self.path,
            "provider": self.headers.get("x-hookgate-provider"),
            "delivery_id": self.headers.get("x-hookgate-delivery-id"),
            "verified": self.headers.get("x-hookgate-verified"),
            "content_type": self.headers.get("content-type"),
            "bytes": len(body),
        }
        try:
            doc = json.loads(body)
            if isinstance(doc, dict) and doc.get("specversion"):
                summary["type"] = doc.get("type")
                summary["subject"] = doc.get("subject")
            else:
                summary["ce-type"] = self.headers.get("ce-type")
        except ValueError:
            pass
        print("receiver got " + json.dumps(summary), flush=True)
        self.respond(200, b'{"received":true}')

    def do_GET(self):
        """Any GET answers 200: something to wait on before sending
        (`hookgate healthcheck --url http://127.0.0.1:3000/`)."""
        self.respond(200, b'{"ok":true}')

    def respond(self, status, body):
        """The whole response in one write: one send, one segment."""
        head = (
            f"HTTP/1.1 {status} {self.responses[status][0]}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        self.wfile.write(head + body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:3000")
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Receiver)
    print(f"demo receiver listening on {args.listen}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
