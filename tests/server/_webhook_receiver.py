"""A customer's webhook receiver, as a process of its own: verifies with ``standardwebhooks``.

``python -m tests.server._webhook_receiver PORT SECRET OUT [FAIL_FILE]``: every POST
is verified with the Standard Webhooks library (the secret, or any of several
comma-separated); a verified one is appended to OUT as a JSON line and answered
204, one that does not verify is answered 401, and while FAIL_FILE exists every
request is answered 500 (a receiver having a bad minute).
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    port, secrets, out = int(sys.argv[1]), sys.argv[2].split(","), Path(sys.argv[3])
    fail = Path(sys.argv[4]) if len(sys.argv) > 4 else None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if fail is not None and fail.exists():
                self.send_response(500)
                self.end_headers()
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified = None
            for secret in secrets:
                try:
                    verified = Webhook(secret).verify(body, headers)
                    break
                except WebhookVerificationError:
                    continue
            if verified is None:
                self.send_response(401)
                self.end_headers()
                return
            line = {"id": headers["webhook-id"], "signatures": headers["webhook-signature"],
                    "payload": verified, "at": time.time()}  # fmt: skip
            with out.open("a") as sink:
                sink.write(json.dumps(line) + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
