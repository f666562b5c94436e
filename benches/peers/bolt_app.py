"""The Bolt for Python peer of lockstep's Slack side, as a team would write it.

It owns one thing: answer `/frappe-stack` the way Bolt's documentation shows, in
Socket Mode. The command is acknowledged at once; half a second later (standing in
for the work) the answer is posted with `chat.postMessage`. Two flavours, chosen by
the first argument:

* `sync`  - `App` + `SocketModeHandler`, Bolt's documented default (threads);
* `async` - `AsyncApp` + `AsyncSocketModeHandler` (asyncio, aiohttp).

Configuration comes from the environment, as in Bolt's examples: `SLACK_BOT_TOKEN`,
`SLACK_APP_TOKEN`, and `SLACK_API_URL` (the Web API base URL; Slack's own unless set,
the benchmark points it at a local Slack-compatible server).
"""

import asyncio
import os
import sys
import time

API_URL = os.environ.get("SLACK_API_URL", "https://slack.com/api/")
BOT_TOKEN = os.environ["SLACK_BOT_TOKEN"]
APP_TOKEN = os.environ["SLACK_APP_TOKEN"]
COMMAND = os.environ.get("SLACK_COMMAND", "/frappe-stack")
WORK_SECONDS = 0.5


def reply_text(command):
    return f"<@{command['user_id']}> `{COMMAND} {command.get('text', '')}`: done."


def run_sync():
    from slack_bolt import App
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk import WebClient

    app = App(client=WebClient(token=BOT_TOKEN, base_url=API_URL))

    @app.command(COMMAND)
    def frappe_stack(ack, command, client):
        ack()
        time.sleep(WORK_SECONDS)
        client.chat_postMessage(channel=command["channel_id"], text=reply_text(command))

    SocketModeHandler(app, APP_TOKEN).start()


def run_async():
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=API_URL))

    @app.command(COMMAND)
    async def frappe_stack(ack, command, client):
        await ack()
        await asyncio.sleep(WORK_SECONDS)
        await client.chat_postMessage(channel=command["channel_id"], text=reply_text(command))

    async def main():
        await AsyncSocketModeHandler(app, APP_TOKEN).start_async()

    asyncio.run(main())


if __name__ == "__main__":
    flavour = sys.argv[1] if len(sys.argv) > 1 else "sync"
    if flavour == "sync":
        run_sync()
    elif flavour == "async":
        run_async()
    else:
        sys.exit(f"usage: {sys.argv[0]} sync|async")
