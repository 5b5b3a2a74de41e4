"""Signs and validates as the official `twilio` Python SDK does
(twilio.request_validator.RequestValidator).

A form is given as its raw body ("form") and read the way web frameworks
hand it to the validator: every parameter, blank values kept, each name with
its list of values. A JSON body is given as text ("body"); its URL carries
bodySHA256.

stdin: {"op": "sign", "token", "url", "form" | "body", "algorithm"?}
    -> {"signature", "hash"?}
stdin: {"op": "validate", "token", "url", "form" | "body", "signature", "settings"?}
    -> {"ok": bool}
"""

import json
import sys
from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator, get_signature_algorithm


class Form(dict):
    """Name -> values, read through getlist() as Django's QueryDict is."""

    def getlist(self, name):
        return self[name]


def params(req):
    if "form" in req:
        return Form(parse_qs(req["form"], keep_blank_values=True))
    return req["body"]


def main():
    req = json.load(sys.stdin)
    validator = RequestValidator(req["token"])
    if req["op"] == "sign":
        out = {}
        if "body" in req:
            out["hash"] = validator.compute_hash(req["body"])
            signed = {}
        else:
            signed = params(req)
        out["signature"] = validator.compute_signature(req["url"], signed, req.get("algorithm"))
    else:
        algorithm = get_signature_algorithm(req.get("settings"))
        out = {"ok": validator.validate(req["url"], params(req), req["signature"], algorithm)}
    json.dump(out, sys.stdout)


main()
