"""Drives a running `callboard sim` with the official RingCentral Python SDK (`ringcentral` on
PyPI, pinned in requirements.txt), unmodified: log in with the JWT, refresh, read the signed-in
extension, open the WebSocket with the SDK's WebSocketClient and subscribe, wait for a
notification, update and remove the subscription, list phone numbers, relabel one, fetch a
recording, and log out.

Reads RC_SERVER_URL, RC_CLIENT_ID, RC_CLIENT_SECRET, RC_JWT. Prints one JSON line with what it
saw on success; exits non-zero naming the failing step on error.
"""

import asyncio
import json
import os
import sys
import urllib.request

from ringcentral import SDK
from ringcentral.websocket.events import WebSocketEvents

step = "start"


def env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set")
    return value


SERVER = env("RC_SERVER_URL")


def control(path, body):
    request = urllib.request.Request(
        f"{SERVER}/_sim/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read() or b"null")


async def within(awaitable, seconds, what):
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except asyncio.TimeoutError:
        raise RuntimeError(f"timed out waiting for {what}") from None


async def main():
    global step
    sdk = SDK(env("RC_CLIENT_ID"), env("RC_CLIENT_SECRET"), SERVER)
    platform = sdk.platform()

    step = "login"
    platform.login(jwt=env("RC_JWT"))
    me = platform.get("/restapi/v1.0/account/~/extension/~").json_dict()

    step = "refresh"
    platform.refresh()
    platform.get("/restapi/v1.0/account/~/extension/~")

    step = "open the WebSocket"
    client = sdk.create_web_socket_client()
    loop = asyncio.get_running_loop()
    subscribed = loop.create_future()
    notified = loop.create_future()
    failures = []

    def on_subscription(subscription):
        if not subscribed.done():
            subscribed.set_result(subscription)

    def on_notification(message):
        if not notified.done():
            notified.set_result(message)

    client.on(WebSocketEvents.subscriptionCreated, on_subscription)
    client.on(WebSocketEvents.receiveSubscriptionNotification, on_notification)
    client.on(WebSocketEvents.createConnectionError, failures.append)
    # Every reply to a ClientRequest (the SDK sends and does not wait), by status.
    replies = []

    def on_message(message):
        frame = json.loads(message)
        if frame[0].get("type") == "ClientRequest":
            replies.append((frame[0].get("status"), frame[1] if len(frame) > 1 else None))

    client.on(WebSocketEvents.receiveMessage, on_message)
    reader = asyncio.create_task(client.create_new_connection())

    async def ready():
        while client.get_connection_info() is None:
            if reader.done():
                reader.result()
                raise RuntimeError("the connection ended before it was ready")
            await asyncio.sleep(0.05)

    await within(ready(), 20, "the connection")
    details = json.loads(client.get_connection_info()["connection_details"])
    if details[0].get("type") != "ConnectionDetails":
        raise RuntimeError(f"first frame was not ConnectionDetails: {details}")

    step = "subscribe"
    filters = [
        "/restapi/v1.0/account/~/telephony/sessions",
        "/restapi/v1.0/account/~/presence?detailedTelephonyState=true",
    ]
    await client.create_subscription(filters)
    subscription = await within(subscribed, 20, "the subscription")
    info = subscription.get_subscription_info()
    if info[0].get("status") != 200 or info[1].get("status") != "Active":
        raise RuntimeError(f"subscription answered {info}")

    step = "notification"
    control("burst", {"count": 5})
    message = await within(notified, 20, "a notification")
    body = message[1]
    if not body.get("event") or "body" not in body or not body.get("uuid"):
        raise RuntimeError(f"odd notification {message}")

    step = "update subscription"
    await client.update_subscription(subscription, filters[:1])

    step = "remove subscription"
    await client.remove_subscription(subscription)

    async def answered(count):
        while len(replies) < count:
            await asyncio.sleep(0.05)

    await within(answered(3), 20, "replies to the update and the removal")
    statuses = [status for status, _ in replies]
    if statuses[:2] != [200, 200] or statuses[2] not in (200, 204):
        raise RuntimeError(f"subscription requests answered {replies}")
    updated_filters = replies[1][1].get("eventFilters") or []
    # The platform answers with `~` resolved to the account id.
    if len(updated_filters) != 1 or not updated_filters[0].endswith("/telephony/sessions"):
        raise RuntimeError(f"the update answered {replies[1][1]}")

    step = "close"
    await client.close_connection()
    try:
        await within(reader, 10, "the reader to stop")
    except Exception:
        pass  # the SDK's reader raises once its socket is closed

    step = "list numbers"
    numbers = platform.get("/restapi/v1.0/account/~/phone-number", {"perPage": 100}).json_dict()
    records = numbers["records"]
    ctn = next((n for n in records if n.get("usageType") != "MainCompanyNumber"), records[0])

    step = "relabel"
    label = "SDK Check +14155550100"
    updated = platform.put(f"/restapi/v1.0/account/~/phone-number/{ctn['id']}", {"label": label}).json_dict()
    if updated.get("label") != label:
        raise RuntimeError(f"relabel answered label {updated.get('label')}")

    step = "recording"
    made = control("recording", {"bytes": 48000})
    meta = platform.get(f"/restapi/v1.0/account/~/recording/{made['id']}").json_dict()
    content = platform.get(meta["contentUri"]).response().content
    if len(content) != 48000 or content[:4] != b"RIFF":
        raise RuntimeError(f"recording came back as {len(content)} bytes")

    step = "logout"
    platform.logout()

    print(
        json.dumps(
            {
                "ok": True,
                "owner": str(me["id"]),
                "event": body["event"],
                "subscriptionId": info[1]["id"],
                "requestStatuses": statuses,
                "numbers": len(records),
                "relabelled": str(ctn["id"]),
                "recordingBytes": len(content),
            }
        )
    )


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as error:  # report the step, then fail
        print(f'SDK check failed at step "{step}": {error!r}', file=sys.stderr)
        sys.exit(1)
