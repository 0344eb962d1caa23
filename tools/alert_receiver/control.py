"""The receiver's control API, for a receiver in another process (`python -m tools.alert_receiver`): plain HTTP on
loopback, on its own port, so it answers while the receiver is down.

    GET  /messages                 {"messages": [...], "attempts": [...]}
    PUT  /webhook/{name}           {"secret": "..."}  -> {"url", "httpUrl"}   (again: one more secret, as rotating)
    PUT  /teams/{name}                                -> {"url", "httpUrl"}
    POST /answer                   {"status", "retryAfter"?, "location"?, "bodyBytes"?, "delay"?, "times"?, "seconds"?}
    POST /clear | /up              POST /down {"seconds"?}
"""
from __future__ import annotations

import json
from typing import Any

from tools.alert_receiver.receiver import AlertReceiver
from tools.identity_sim.replies import Reply, json_reply
from tools.identity_sim.server import Exchange, TlsThreadingServer


def control_server(receiver: AlertReceiver, host: str = "127.0.0.1", port: int = 0) -> TlsThreadingServer:
    return TlsThreadingServer((host, port), context=None, handle=lambda exchange: _handle(receiver, exchange),
                              methods=("GET", "POST", "PUT"))


def _handle(receiver: AlertReceiver, exchange: Exchange) -> None:
    try:
        body: dict[str, Any] = json.loads(exchange.body) if exchange.body else {}
        exchange.send(_route(receiver, exchange.method, exchange.target.strip("/").split("/"), body))
    except (ValueError, TypeError, KeyError) as error:
        exchange.send(json_reply(400, {"error": str(error)}))


def _route(receiver: AlertReceiver, method: str, path: list[str], body: dict[str, Any]) -> Reply:
    match method, path:
        case "GET", ["messages"]:
            return json_reply(200, receiver.inbox.as_json())
        case "PUT", ["webhook", name]:
            return json_reply(200, {"url": receiver.add_webhook(name, body["secret"]),
                                    "httpUrl": receiver.add_webhook(name, scheme="http")})
        case "PUT", ["teams", name]:
            return json_reply(200, {"url": receiver.add_teams(name),
                                    "httpUrl": receiver.add_teams(name, scheme="http")})
        case "POST", ["answer"]:
            receiver.answer(int(body["status"]), retry_after=body.get("retryAfter"), location=body.get("location"),
                            body_bytes=int(body.get("bodyBytes", 0)), delay=float(body.get("delay", 0)),
                            times=body.get("times"), seconds=body.get("seconds"))
        case "POST", ["clear"]:
            receiver.clear()
        case "POST", ["down"]:
            receiver.down(seconds=body.get("seconds"))
        case "POST", ["up"]:
            receiver.up()
        case _:
            return Reply(404)
    return Reply(204)
