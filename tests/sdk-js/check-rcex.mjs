// Drives a running `callboard sim` with RingCentral's official extensible SDK (`@rc-ex/core` +
// `@rc-ex/ws`, the WebSocket layer under `@ringcentral/subscriptions`), unmodified, with REST
// sent over the WebSocket (`restOverWebSocket: true`): every REST call below except OAuth and the
// binary recording travels as a ClientRequest frame on the socket.
//
// Reads RC_SERVER_URL, RC_CLIENT_ID, RC_CLIENT_SECRET, RC_JWT. Prints one JSON line with what it
// saw on success; exits non-zero with the failing step on error.

import RingCentral from "@rc-ex/core";
import WebSocketExtension from "@rc-ex/ws";
import { control, env, server, withTimeout } from "./support.mjs";

let step = "start";

const main = async () => {
  const rc = new RingCentral({ server, clientId: env("RC_CLIENT_ID"), clientSecret: env("RC_CLIENT_SECRET") });

  step = "authorize";
  await rc.authorize({ jwt: env("RC_JWT") });

  step = "connect";
  const ws = new WebSocketExtension({ restOverWebSocket: true });
  await withTimeout(rc.installExtension(ws), 20000, "the WebSocket connection");
  if (!ws.wsc?.token) throw new Error("ConnectionDetails carried no wsc token");
  if (!ws.connectionDetails?.recoveryTimeout) throw new Error("ConnectionDetails carried no recoveryTimeout");

  step = "REST over the socket";
  const me = await rc.restapi().account().extension().get();
  const numbers = await rc.restapi().account().phoneNumber().list({ perPage: 100 });
  const ctn = numbers.records.find((n) => n.usageType !== "MainCompanyNumber") ?? numbers.records[0];
  const queues = await rc.restapi().account().callQueues().list();

  step = "relabel over the socket";
  const label = "RcEx Check +14155550100";
  const updated = await rc.put(`/restapi/v1.0/account/~/phone-number/${ctn.id}`, { label });
  if (updated.data.label !== label) throw new Error(`relabel answered label ${updated.data.label}`);

  step = "subscribe";
  let resolveEvent;
  const notified = new Promise((resolve) => (resolveEvent = resolve));
  const subscription = await withTimeout(
    ws.subscribe(
      ["/restapi/v1.0/account/~/telephony/sessions", "/restapi/v1.0/account/~/presence?detailedTelephonyState=true"],
      (event) => resolveEvent(event),
    ),
    20000,
    "the subscription",
  );

  step = "notification";
  await control("burst", { count: 5 });
  const event = await withTimeout(notified, 20000, "a notification");
  if (!event.event || !event.body || !event.uuid) throw new Error(`odd notification ${JSON.stringify(event)}`);

  step = "recording over HTTP";
  const made = await control("recording", { bytes: 48000 });
  const meta = await rc.restapi().account().recording(made.id).get();
  const content = await rc.get(meta.contentUri, undefined, { responseType: "arraybuffer" });
  const bytes = Buffer.from(content.data);
  if (bytes.length !== 48000 || bytes.subarray(0, 4).toString() !== "RIFF") {
    throw new Error(`recording came back as ${bytes.length} bytes`);
  }

  step = "revoke subscription";
  await subscription.revoke();

  step = "revoke token";
  await ws.revoke();
  await rc.revoke();

  console.log(
    JSON.stringify({
      ok: true,
      owner: String(me.id),
      queues: queues.records.length,
      numbers: numbers.records.length,
      event: event.event,
      recordingBytes: bytes.length,
    }),
  );
};

main()
  .then(() => process.exit(0))
  .catch((error) => {
    console.error(`SDK check failed at step "${step}": ${error?.stack ?? error}`);
    if (error?.response) console.error(`status ${error.response.status} ${JSON.stringify(error.response.data)}`);
    process.exit(1);
  });
