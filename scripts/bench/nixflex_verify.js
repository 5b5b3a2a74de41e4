// The nginx + njs comparison point of scripts/bench.sh: what a team would
// write to verify Nixflex webhooks in nginx itself. `t=<unix>,v1=<hex>`
// over "<t>.<raw body>", HMAC-SHA256, 300 s window, several v1 accepted;
// then an internal redirect to the location that proxies to the receiver.
var crypto = require('crypto');

function nixflex(r) {
  var header = r.headersIn['X-Nixflex-Signature'] || '';
  var t = null;
  var sigs = [];
  header.split(',').forEach(function (part) {
    var kv = part.trim().split('=');
    if (kv[0] === 't') { t = kv[1]; }
    if (kv[0] === 'v1') { sigs.push(kv[1]); }
  });
  var now = Math.floor(Date.now() / 1000);
  if (!t || !/^[0-9]+$/.test(t) || Math.abs(now - Number(t)) > 300 || sigs.length === 0) {
    r.return(401, '{"error":"invalid_signature"}');
    return;
  }
  var expected = crypto.createHmac('sha256', r.variables.nixflex_secret)
    .update(t + '.' + r.requestText).digest('hex');
  for (var i = 0; i < sigs.length; i++) {
    if (sigs[i] === expected) {
      r.internalRedirect('@receiver');
      return;
    }
  }
  r.return(401, '{"error":"invalid_signature"}');
}

export default { nixflex };
