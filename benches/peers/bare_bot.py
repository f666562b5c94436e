"""The floor of the ack benchmark: a bare Socket Mode bot with no framework.

It owns the least a Socket Mode client can do: open a connection
(`apps.connections.open`), and for every envelope it reads, send the ack
`{"envelope_id": ...}` at once, before anything else. For a slash command it then
posts an answer with `chat.postMessage` half a second later, like the other bots, so
the server sees the same traffic. asyncio + aiohttp (which answers pings and sets
TCP_NODELAY). It reconnects when the server says `disconnect`.

Environment: `SLACK_BOT_TOKEN`, `SLACK_APP_TOKEN`, `SLACK_API_URL`.
"""

import asyncio
import json
import os

import aiohttp

API_URL = os.environ.get("SLACK_API_URL", "https://slack.com/api/")
BOT_TOKEN = os.environ["SLACK_BOT_TOKEN"]
APP_TOKEN = os.environ["SLACK_APP_TOKEN"]
WORK_SECONDS = 0.5


def api(method):
    return API_URL.rstrip("/") + "/" + method


async def reply_later(http, payload):
    await asyncio.sleep(WORK_SECONDS)
    text = f"<@{payload['user_id']}> `{payload['command']} {payload.get('text', '')}`: done."
    async with http.post(
        api("chat.postMessage"),
        headers={"Authorization": f"Bearer {BOT_TOKEN}"},
        json={"channel": payload["channel_id"], "text": text},
    ) as response:
        await response.read()


async def serve_one_connection(http, pending):
    async with http.post(
        api("apps.connections.open"), headers={"Authorization": f"Bearer {APP_TOKEN}"}
    ) as response:
        opened = await response.json()
    if not opened.get("ok"):
        raise RuntimeError(f"apps.connections.open failed: {opened}")
    async with http.ws_connect(opened["url"], autoping=True, heartbeat=15) as ws:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            envelope_id = frame.get("envelope_id")
            if envelope_id:
                await ws.send_str(json.dumps({"envelope_id": envelope_id}))
                if frame.get("type") == "slash_commands":
                    task = asyncio.create_task(reply_later(http, frame["payload"]))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
            elif frame.get("type") == "disconnect":
                break


async def main():
    pending = set()
    async with aiohttp.ClientSession() as http:
        while True:
            await serve_one_connection(http, pending)


if __name__ == "__main__":
    asyncio.run(main())
