"""Verifies as the official `elevenlabs` Python SDK does
(`client.webhooks.construct_event`); the SDK has no signer.

stdin: {"op": "verify", "secret", "body", "signature"} -> {"ok": bool, "error"?, "event"?}
"""

import json
import sys

from elevenlabs.client import ElevenLabs


def main():
    req = json.load(sys.stdin)
    client = ElevenLabs(api_key="unused-for-verification")
    try:
        event = client.webhooks.construct_event(req["body"], req["signature"], req["secret"])
        out = {"ok": True, "event": event}
    except Exception as e:  # the SDK raises BadRequestError
        out = {"ok": False, "error": str(e)}
    json.dump(out, sys.stdout)


main()
