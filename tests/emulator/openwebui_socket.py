"""A browser's websocket to one Open WebUI task, for tests/it/openwebui.rs.

Connects the way Open WebUI's frontend does (socket.io at /ws/socket.io, websocket
transport, the user's token as auth), prints {"sid": ...} once connected, then one JSON
line per "events" message the task delivers to this socket, until stdin closes or the
time limit passes. Run with .venv/openwebui's Python (python-socketio and aiohttp come
with Open WebUI).

Usage: openwebui_socket.py URL TOKEN SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys

import socketio


async def main(url: str, token: str, seconds: float) -> None:
    sio = socketio.AsyncClient(reconnection=False)

    @sio.on("events")
    async def events(data: object) -> None:
        print(json.dumps({"events": data}), flush=True)

    await sio.connect(url, socketio_path="/ws/socket.io", transports=["websocket"],
                      auth={"token": token}, wait_timeout=30)
    # The frontend joins its user's room this way too (socket/main.py "user-join").
    await sio.call("user-join", {"auth": {"token": token}}, timeout=30)
    print(json.dumps({"sid": sio.get_sid()}), flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    try:
        await asyncio.wait_for(stdin_closed, timeout=seconds)
    except asyncio.TimeoutError:
        pass
    await sio.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
