// Drives a running `callboard sim` with the official RingCentral JavaScript SDK, unmodified:
// log in with the JWT, refresh, open the WebSocket and subscribe, wait for a notification, list phone
// numbers, relabel one, fetch a recording, remove the subscription and log out.
//
// Reads RC_SERVER_URL, RC_CLIENT_ID, RC_CLIENT_SECRET, RC_JWT; SDK_CHECK_RECOVERY=1 adds a
// dropped socket that the SDK must recover (wsc) with its own auto-recovery. Prints one JSON line with what it
// saw on success; exits non-zero with the failing step on error.

import { SDK } from "@ringcentral/sdk";
import { Subscriptions } from "@ringcentral/subscriptions";
import { control, env, server, withTimeout } from "./support.mjs";

let step = "start";

const main = async () => {
  const sdk = new SDK({ server, clientId: env("RC_CLIENT_ID"), clientSecret: env("RC_CLIENT_SECRET") });
  const platform = sdk.platform();

  step = "login";
  await platform.login({ jwt: env("RC_JWT") });
  const me = await (await platform.get("/restapi/v1.0/account/~/extension/~")).json();

  step = "refresh";
  await platform.refresh();
  await platform.get("/restapi/v1.0/account/~/extension/~");

  step = "subscribe";
  const subscriptions = new Subscriptions({ sdk });
  const subscription = subscriptions.createSubscription();
  const notified = new Promise((resolve) => subscription.on(subscription.events.notification, resolve));
  const wsSubscription = await withTimeout(
    subscription
      .setEventFilters([
        "/restapi/v1.0/account/~/telephony/sessions",
        "/restapi/v1.0/account/~/presence?detailedTelephonyState=true",
      ])
      .register(),
    20000,
    "the subscription",
  );

  step = "notification";
  await control("burst", { count: 5 });
  const event = await withTimeout(notified, 20000, "a notification");
  if (!event.event || !event.body || !event.uuid) throw new Error(`odd notification ${JSON.stringify(event)}`);

  // With SDK_CHECK_RECOVERY=1: cut the socket and let the SDK recover the session with `wsc`.
  let recovered = false;
  if (process.env.SDK_CHECK_RECOVERY === "1") {
    step = "session recovery";
    const wse = wsSubscription.wse;
    const outcome = new Promise((resolve, reject) => {
      wse.eventEmitter.once("autoRecoverSuccess", resolve);
      wse.eventEmitter.once("autoRecoverFailed", () => reject(new Error("the SDK reported recoveryState Failed")));
    });
    await control("fault", { kind: "drop_sockets" });
    await withTimeout(outcome, 30000, "the SDK's session recovery");
    const after = new Promise((resolve) => subscription.on(subscription.events.notification, resolve));
    await control("burst", { count: 3 });
    const late = await withTimeout(after, 20000, "a notification after recovery");
    if (late.subscriptionId !== event.subscriptionId) throw new Error("recovery changed the subscription");
    recovered = true;
  }

  step = "list numbers";
  const numbers = await (await platform.get("/restapi/v1.0/account/~/phone-number", { perPage: 100 })).json();
  const ctn = numbers.records.find((n) => n.usageType !== "MainCompanyNumber") ?? numbers.records[0];

  step = "relabel";
  const label = "SDK Check +14155550100";
  const updated = await (await platform.put(`/restapi/v1.0/account/~/phone-number/${ctn.id}`, { label })).json();
  if (updated.label !== label) throw new Error(`relabel answered label ${updated.label}`);
  const reread = await (await platform.get(`/restapi/v1.0/account/~/phone-number/${ctn.id}`)).json();
  if (reread.label !== label) throw new Error(`label read back as ${reread.label}`);

  step = "recording";
  const made = await control("recording", { bytes: 48000 });
  const meta = await (await platform.get(`/restapi/v1.0/account/~/recording/${made.id}`)).json();
  const content = await platform.get(meta.contentUri);
  const bytes = Buffer.from(await content.arrayBuffer());
  if (bytes.length !== 48000 || bytes.subarray(0, 4).toString() !== "RIFF") {
    throw new Error(`recording came back as ${bytes.length} bytes`);
  }

  step = "recording from the call log";
  const log = await (
    await platform.get("/restapi/v1.0/account/~/call-log", { withRecording: true, view: "Detailed", perPage: 5 })
  ).json();
  const recorded = log.records.find((record) => record.recording);
  if (!recorded) throw new Error("no recorded call in the call log");
  const audio = Buffer.from(await (await platform.get(recorded.recording.contentUri)).arrayBuffer());
  if (audio.subarray(0, 4).toString() !== "RIFF") throw new Error("the call recording is not a WAV file");

  step = "remove subscription";
  await wsSubscription.revoke();

  step = "logout";
  await platform.logout();

  console.log(
    JSON.stringify({
      ok: true,
      owner: me.id,
      recovered,
      event: event.event,
      numbers: numbers.records.length,
      relabelled: ctn.id,
      recordingBytes: bytes.length,
      callRecordingBytes: audio.length,
    }),
  );
};

main()
  .then(() => process.exit(0))
  .catch((error) => {
    console.error(`SDK check failed at step "${step}": ${error?.stack ?? error}`);
    if (error?.response) console.error(`status ${error.response.status}`);
    process.exit(1);
  });
