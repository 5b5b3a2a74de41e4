"""Signs and verifies as the official `standardwebhooks` Python SDK does.

stdin: {"op": "sign", "secret", "id", "timestamp", "body"}
    -> {"headers": {"webhook-id", "webhook-timestamp", "webhook-signature"}}
stdin: {"op": "verify", "secret", "headers", "body"} -> {"ok": bool, "error"?}
"""

import json
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook


def main():
    req = json.load(sys.stdin)
    wh = Webhook(req["secret"])
    if req["op"] == "sign":
        ts = datetime.fromtimestamp(req["timestamp"], tz=timezone.utc)
        sig = wh.sign(req["id"], ts, req["body"])
        out = {"headers": {"webhook-id": req["id"], "webhook-timestamp": str(req["timestamp"]), "webhook-signature": sig}}
    else:
        try:
            wh.verify(req["body"].encode(), req["headers"], json_parse=False)
            out = {"ok": True}
        except Exception as e:  # the SDK raises WebhookVerificationError
            out = {"ok": False, "error": str(e)}
    json.dump(out, sys.stdout)


main()
