// One CoAP request over coaps with a PSK, through the npm package node-coap-client (its DTLS is
// node-dtls-client, an implementation independent of OpenSSL and libcoap). test_dtls.py runs it.
//   node node_coaps.js URL METHOD IDENTITY KEY [PAYLOAD]
// Prints the response code (e.g. 2.05) on the first line and the payload after it; exits 1 on
// an error and 2 when nothing came back in time.
"use strict";
const { CoapClient } = require("node-coap-client");

const [url, method, identity, key, payload] = process.argv.slice(2);
const deadline = setTimeout(() => {
  console.error("no response in time");
  process.exit(2);
}, 15000);

CoapClient.setSecurityParams(new URL(url).hostname, { psk: { [identity]: key } });
CoapClient.request(url, method, payload === undefined ? undefined : Buffer.from(payload),
                   { keepAlive: false, confirmable: true })
  .then((response) => {
    clearTimeout(deadline);
    process.stdout.write(response.code.toString() + "\n" +
                         (response.payload ? response.payload.toString() : ""));
    CoapClient.reset();
    process.exit(0);
  })
  .catch((error) => {
    console.error(String(error));
    process.exit(1);
  });
