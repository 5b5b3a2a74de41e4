"""Verifies as the official `telnyx` Python SDK does
(`telnyx.lib.webhook_verification.verify_webhook_signature`, Ed25519 with
PyNaCl); the SDK has no signer, so "keypair" and "sign" use PyNaCl, the
library it verifies with.

stdin: {"op": "keypair"} -> {"seed", "public"} (base64)
stdin: {"op": "sign", "seed", "timestamp", "body"} -> {"headers": {...}}
stdin: {"op": "verify", "public", "headers", "body"} -> {"ok": bool, "error"?}
"""

import base64
import json
import sys

from nacl.signing import SigningKey
from telnyx.lib.webhook_verification import WebhookVerificationError, verify_webhook_signature


def main():
    req = json.load(sys.stdin)
    if req["op"] == "keypair":
        key = SigningKey.generate()
        out = {
            "seed": base64.b64encode(bytes(key)).decode(),
            "public": base64.b64encode(bytes(key.verify_key)).decode(),
        }
    elif req["op"] == "sign":
        key = SigningKey(base64.b64decode(req["seed"]))
        signed = f'{req["timestamp"]}|{req["body"]}'.encode()
        sig = key.sign(signed).signature
        out = {"headers": {
            "telnyx-signature-ed25519": base64.b64encode(sig).decode(),
            "telnyx-timestamp": str(req["timestamp"]),
        }}
    else:
        try:
            verify_webhook_signature(req["body"].encode(), req["headers"], req["public"])
            out = {"ok": True}
        except WebhookVerificationError as e:
            out = {"ok": False, "error": str(e)}
    json.dump(out, sys.stdout)


main()
