"""Signs and verifies as the official `retell-sdk` Python SDK does
(`retell.lib.webhook_auth`).

stdin: {"op": "sign", "key", "body", "timestamp_ms"} -> {"headers": {"x-retell-signature"}}
stdin: {"op": "verify", "key", "body", "signature"} -> {"ok": bool}
"""

import json
import sys

from retell.lib import webhook_auth


def main():
    req = json.load(sys.stdin)
    if req["op"] == "sign":
        sig = webhook_auth.symmetric["sign"](req["body"], req["key"], req["timestamp_ms"])
        out = {"headers": {"x-retell-signature": sig}}
    else:
        out = {"ok": bool(webhook_auth.verify(req["body"], req["key"], req["signature"]))}
    json.dump(out, sys.stdout)


main()
