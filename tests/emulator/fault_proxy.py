#!/usr/bin/env python3
"""A fault-injecting HTTP proxy between the operator and the emulator (moto server).

The fault tests (tests/it/faults.rs) point the operator's AWS_ENDPOINT_URL here; every
request is forwarded to --upstream unless the proxy decides to fail it.  The proxy sees
every request, so it also keeps the log of operations that the tests check for deletes.

Fault kinds (each in the wire shape its protocol uses, so that the SDK classifies it as
it would classify AWS's own answer):

  throttle     CloudFormation (query/XML): 400 <Code>Throttling</Code>; JSON protocols:
               400 x-amzn-ErrorType ThrottlingException; S3 (restXml): 503 SlowDown
  http429      a plain 429 with no body (no error code to classify)
  http500      500 with the protocol's internal-error code (InternalFailure; S3
               InternalError), as AWS sends it
  plain500     a plain 500 with no body (what a load balancer or proxy in between may
               send)
  reset_before the connection is reset before the request is forwarded (it never
               reached the emulator)
  reset_after  the request is forwarded and done, then the connection is reset instead
               of answering (the response is lost: a retry repeats a request that worked)
  stall        no answer for --stall seconds (10), then forwarded and answered; if the
               client gives up first, the request is dropped
  blackhole    no answer at all until the client gives up, or --blackhole seconds (60)
               pass, then a reset; the time the client waited is recorded
  denied       403 AccessDenied(Exception) in the protocol's shape: a permission the
               caller lacks, which no retry fixes (only with `once`, never drawn at random)

Besides, `outage` resets every request (the endpoint is unreachable) and
`upstream_down` counts requests that found the emulator gone (killed by a test).

Which requests fail: each request draws from a random generator seeded by --seed (the
seed is printed and reported); with probability `rate` it gets a fault.  The kind
cycles through the enabled kinds in a seeded order, so that a few dozen requests inject
every kind; `limits` caps a kind (a stall costs ten seconds of test time).

Control endpoint, on the same port (no AWS request path starts with /__faults):
  POST /__faults/config  JSON merged into the settings: rate, kinds, limits, stall_secs,
                         blackhole_secs, outage; once_per_write (a kind for the first
                         call of each write operation), once ({"service:Operation":
                         kind} for its first call)
  GET  /__faults/stats   JSON: seed, settings, fault counters, the operation log
  GET  /__faults/health  200 once serving

What counts as a delete (the `delete` field of each logged operation): an operation
whose name starts with Delete, Deregister, Remove, Terminate, Untag or Purge, or any
HTTP DELETE, except CloudFormation's DeleteChangeSet: a change set is a proposal, not a
resource, and the operator deletes only the one it has just made when CloudFormation
computed it empty or refused it.

Usage: python tests/emulator/fault_proxy.py --upstream http://127.0.0.1:PORT
           [--port 0] [--seed N] [--stall 10] [--blackhole 60]
Prints exactly one line "fault proxy listening on http://127.0.0.1:PORT seed N" once
it accepts connections; serves until SIGTERM/SIGINT.  Only the standard library.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

KINDS = ["throttle", "http429", "http500", "plain500", "reset_before", "reset_after", "stall", "blackhole"]
# Kinds a test asks for by name (`once`); never drawn at random.
NAMED_KINDS = ["denied"]
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "trailers", "transfer-encoding", "upgrade", "content-length",
    # The proxy answered any 100-continue itself and forwards the whole body.
    "expect",
}
DELETE_PREFIXES = ("Delete", "Deregister", "Remove", "Terminate", "Untag", "Purge")
NOT_A_RESOURCE_DELETE = {"cloudformation:DeleteChangeSet"}
CONTROL = "/__faults/"
# The operator's own rule for what only reads (src/aws.rs, `is_read`).
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Detect")

# REST operations of the services whose APIs have no X-Amz-Target (restJson, restXml):
# (service, method, path pattern) -> operation name.
REST_OPERATIONS = [
    ("backup", "GET", r"^/backup/plans/?$", "ListBackupPlans"),
    ("backup", "PUT", r"^/backup/plans/?$", "CreateBackupPlan"),
    ("backup", "GET", r"^/backup/plans/[^/]+/?$", "GetBackupPlan"),
    ("backup", "POST", r"^/backup/plans/[^/]+/?$", "UpdateBackupPlan"),
    ("backup", "DELETE", r"^/backup/plans/[^/]+/?$", "DeleteBackupPlan"),
    ("backup", "GET", r"^/backup/plans/[^/]+/selections/?$", "ListBackupSelections"),
    ("backup", "PUT", r"^/backup/plans/[^/]+/selections/?$", "CreateBackupSelection"),
    ("backup", "GET", r"^/backup/plans/[^/]+/selections/[^/]+/?$", "GetBackupSelection"),
    ("backup", "DELETE", r"^/backup/plans/[^/]+/selections/[^/]+/?$", "DeleteBackupSelection"),
    ("backup", "GET", r"^/tags/.+$", "ListTags"),
    ("backup", "POST", r"^/tags/.+$", "TagResource"),
    ("backup", "POST", r"^/untag/.+$", "UntagResource"),
    ("bedrock", "GET", r"^/foundation-models/?$", "ListFoundationModels"),
    ("bedrock", "GET", r"^/foundation-models/.+$", "GetFoundationModel"),
]


def operation(method: str, path: str, headers: Any, body: bytes) -> tuple[str, str]:
    """(service, operation) of a request: the service from the SigV4 credential scope,
    the operation from X-Amz-Target (JSON protocols), Action= (query protocol) or the
    method and path (REST protocols)."""
    auth = headers.get("Authorization", "")
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    service = m.group(1) if m else "unknown"
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    url = urlsplit(path)
    params = parse_qs(url.query)
    if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        params.update(parse_qs(body.decode("utf-8", "replace")))
    if "Action" in params:
        return service, params["Action"][0]
    for svc, verb, pattern, name in REST_OPERATIONS:
        if svc == service and verb == method and re.match(pattern, url.path):
            return service, name
    if service == "s3":
        return service, s3_operation(method, url.path, params)
    return service, f"{method} {url.path}"


def s3_operation(method: str, path: str, params: dict[str, list[str]]) -> str:
    """S3's REST operations, path-style (/bucket[/key])."""
    parts = unquote(path).lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    noun = "Object" if has_key else "Bucket"
    if not parts[0]:
        return "ListBuckets"
    for sub in ("tagging", "policy", "versioning", "encryption", "acl", "lifecycle"):
        if sub in params:
            noun += sub.capitalize()
            break
    verb = {"GET": "Get", "HEAD": "Head", "PUT": "Put", "DELETE": "Delete", "POST": "Post"}
    if method == "GET" and not has_key and noun == "Bucket":
        return "ListObjects"
    if method == "PUT" and noun == "Bucket":
        return "CreateBucket"
    return verb.get(method, method) + noun


def is_delete(service: str, op: str, method: str) -> bool:
    if f"{service}:{op}" in NOT_A_RESOURCE_DELETE:
        return False
    return method == "DELETE" or op.startswith(DELETE_PREFIXES)


def protocol(service: str, headers: Any) -> str:
    if service == "s3":
        return "restxml"
    if headers.get("X-Amz-Target") or "json" in headers.get("Content-Type", ""):
        return "json"
    if service in ("backup", "bedrock"):
        return "json"
    return "query"


def error_response(proto: str, code: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
    """An AWS error in the wire shape of `proto`."""
    request_id = str(uuid.uuid4())
    if proto == "query":
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
            f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    if proto == "restxml":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()
    body = json.dumps({"__type": code, "message": message})
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "x-amzn-ErrorType": code,
        "x-amzn-RequestId": request_id,
    }
    return status, headers, body.encode()


class Faults:
    """Settings, the seeded choice of faults, counters and the operation log."""

    def __init__(self, seed: int, stall_secs: float, blackhole_secs: float) -> None:
        self.lock = threading.Lock()
        self.seed = seed
        self.rng = random.Random(seed)
        self.settings: dict[str, Any] = {
            "rate": 0.0,
            "kinds": list(KINDS),
            "limits": {},
            "stall_secs": stall_secs,
            "blackhole_secs": blackhole_secs,
            "outage": False,
            "once_per_write": None,
            "once": {},
        }
        self.writes_seen: set[str] = set()
        self.once_done: set[str] = set()
        self.order = list(KINDS)
        self.rng.shuffle(self.order)
        self.next_kind = 0
        self.counts: dict[str, int] = {}
        self.log: list[dict[str, Any]] = []
        self.blackhole_waits: list[float] = []

    def configure(self, update: dict[str, Any]) -> None:
        with self.lock:
            kinds = set(update.get("kinds", [])) | set(update.get("once", {}).values())
            if update.get("once_per_write"):
                kinds.add(update["once_per_write"])
            unknown = kinds - set(KINDS) - set(NAMED_KINDS)
            if unknown:
                raise ValueError(f"unknown fault kinds {sorted(unknown)}")
            self.settings.update(update)

    def choose(self, service: str, op: str) -> str | None:
        """The fault for the next request, or None to forward it."""
        with self.lock:
            s = self.settings
            if s["outage"]:
                return "outage"
            name = f"{service}:{op}"
            if name in s["once"] and name not in self.once_done:
                self.once_done.add(name)
                return s["once"][name]
            if s["once_per_write"] and not op.startswith(READ_PREFIXES) and name not in self.writes_seen:
                self.writes_seen.add(name)
                return s["once_per_write"]
            if self.rng.random() >= s["rate"]:
                return None
            for _ in range(len(self.order)):
                kind = self.order[self.next_kind % len(self.order)]
                self.next_kind += 1
                limit = s["limits"].get(kind)
                if kind in s["kinds"] and (limit is None or self.counts.get(kind, 0) < limit):
                    return kind
            return None

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            entry["n"] = len(self.log)
            self.log.append(entry)
            return entry

    def count(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "seed": self.seed,
                "settings": self.settings,
                "faults": dict(self.counts),
                "requests": len(self.log),
                "blackhole_waits": list(self.blackhole_waits),
                "log": [dict(e) for e in self.log],
            }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "Proxy"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        del format, args

    def do_GET(self) -> None:
        self.handle_any()

    def do_HEAD(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def do_PUT(self) -> None:
        self.handle_any()

    def do_DELETE(self) -> None:
        self.handle_any()

    def do_PATCH(self) -> None:
        self.handle_any()

    # ----------------------------------------------------------------- requests
    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self) -> None:
        body = self.read_body()
        if self.path.startswith(CONTROL):
            self.control(body)
            return
        faults = self.server.faults
        service, op = operation(self.command, self.path, self.headers, body)
        attempt = re.search(r"attempt=(\d+)", self.headers.get("amz-sdk-request", ""))
        entry = faults.record({
            "t": round(time.monotonic() - self.server.started, 3),
            "service": service,
            "op": op,
            "method": self.command,
            "delete": is_delete(service, op, self.command),
            "invocation": self.headers.get("amz-sdk-invocation-id", ""),
            "attempt": int(attempt.group(1)) if attempt else 0,
            "fault": None,
            "status": None,
        })
        kind = faults.choose(service, op)
        entry["fault"] = kind
        if kind is not None:
            faults.count(kind)
        proto = protocol(service, self.headers)
        if kind in ("outage", "reset_before"):
            self.reset(entry)
        elif kind == "throttle":
            if proto == "query":
                self.answer(entry, *error_response(proto, "Throttling", "Rate exceeded", 400))
            elif proto == "restxml":
                self.answer(entry, *error_response(proto, "SlowDown", "Please reduce your request rate.", 503))
            else:
                self.answer(entry, *error_response(proto, "ThrottlingException", "Rate exceeded", 400))
        elif kind == "http429":
            self.answer(entry, 429, {}, b"")
        elif kind == "denied":
            code = "AccessDeniedException" if proto not in ("query", "restxml") else "AccessDenied"
            self.answer(entry, *error_response(proto, code, "User is not authorized to perform this action", 403))
        elif kind == "plain500":
            self.answer(entry, 500, {}, b"")
        elif kind == "http500":
            code = "InternalError" if proto == "restxml" else "InternalFailure"
            self.answer(entry, *error_response(proto, code, "We encountered an internal error.", 500))
        elif kind == "blackhole":
            waited = self.wait_for_client(faults.settings["blackhole_secs"])
            with faults.lock:
                faults.blackhole_waits.append(round(waited, 2))
            entry["waited"] = round(waited, 2)
            self.reset(entry)
        elif kind == "stall":
            waited = self.wait_for_client(faults.settings["stall_secs"])
            entry["waited"] = round(waited, 2)
            if waited < faults.settings["stall_secs"]:
                entry["status"] = "client-gave-up"
                self.close_connection = True
            else:
                self.forward(entry, body)
        else:
            self.forward(entry, body, reset_after=kind == "reset_after")

    def wait_for_client(self, secs: float) -> float:
        """Waits up to `secs` without answering; returns early (with the time waited) when
        the client closes the connection."""
        started = time.monotonic()
        while True:
            left = secs - (time.monotonic() - started)
            if left <= 0:
                return secs
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.2))
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return time.monotonic() - started
                except OSError:
                    return time.monotonic() - started

    def forward(self, entry: dict[str, Any], body: bytes, reset_after: bool = False) -> None:
        started = time.monotonic()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=300)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            status, reason, resp_headers = resp.status, resp.reason, resp.getheaders()
        except (OSError, http.client.HTTPException) as e:
            # The emulator is gone (killed by a test): the client sees what it would see
            # of an unreachable endpoint, a broken connection.
            entry["error"] = type(e).__name__
            self.server.faults.count("upstream_down")
            self.reset(entry, status="upstream-down")
            return
        finally:
            conn.close()
        entry["ms"] = round((time.monotonic() - started) * 1000)
        if reset_after:
            entry["upstream_status"] = status
            self.reset(entry)
            return
        entry["status"] = status
        self.send_response_only(status, reason)
        for k, v in resp_headers:
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        if self.command == "HEAD":
            length = next((v for k, v in resp_headers if k.lower() == "content-length"), "0")
            self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def answer(self, entry: dict[str, Any], status: int, headers: dict[str, str], body: bytes) -> None:
        entry["status"] = status
        self.send_response_only(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reset(self, entry: dict[str, Any], status: str = "reset") -> None:
        """Closes the connection with a TCP RST (SO_LINGER 0), answering nothing."""
        entry["status"] = status
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    # ------------------------------------------------------------------ control
    def control(self, body: bytes) -> None:
        faults = self.server.faults
        try:
            if self.path.startswith(CONTROL + "config") and self.command == "POST":
                faults.configure(json.loads(body or b"{}"))
                payload: Any = faults.stats()["settings"]
            elif self.path.startswith(CONTROL + "stats"):
                payload = faults.stats()
            elif self.path.startswith(CONTROL + "health"):
                payload = {"ok": True}
            else:
                self.reply_json(404, {"error": f"no control endpoint {self.path}"})
                return
        except (ValueError, TypeError) as e:
            self.reply_json(400, {"error": str(e)})
            return
        self.reply_json(200, payload)

    def reply_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Proxy(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], upstream: str, faults: Faults) -> None:
        super().__init__(addr, Handler)
        up = urlsplit(upstream)
        self.upstream_host = up.hostname or "127.0.0.1"
        self.upstream_port = up.port or 80
        self.faults = faults
        self.started = time.monotonic()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer (its timeout, a reset we made) is expected
        # here; a traceback per occurrence would only bury the proxy's log.
        del request, client_address
        err = sys.exc_info()[1]
        if not isinstance(err, OSError):
            super().handle_error(None, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the emulator, http://HOST:PORT")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--stall", type=float, default=10.0, help="seconds a stall lasts")
    parser.add_argument("--blackhole", type=float, default=60.0, help="longest blackhole, seconds")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)

    server = Proxy((args.host, args.port), args.upstream, Faults(seed, args.stall, args.blackhole))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # A plain flag: a signal handler that takes a lock (Event.set) can deadlock with the
    # main thread holding that same lock.
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: stopping.append(signum))
    host, port = server.server_address[:2]
    print(f"fault proxy listening on http://{host}:{port} seed {seed}", flush=True)
    while not stopping:
        time.sleep(0.2)
    # No server.shutdown(): it waits for the serving loop, and nothing here needs a
    # graceful end; the handler threads are daemons and go with the process.
    return 0


if __name__ == "__main__":
    sys.exit(main())
