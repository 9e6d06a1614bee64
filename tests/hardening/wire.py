"""Raw sockets against a real ``keyseal serve``: what a slow or greedy client sends, byte for
byte, and what comes back (an HTTP answer, or only a close)."""

from __future__ import annotations

import json
import os
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    status: int | None  # None: closed (or still silent) without an HTTP answer
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def envelope(self) -> dict[str, Any]:
        assert self.headers.get("content-type") == "application/json", self
        body = json.loads(self.body)
        assert set(body) == {"code", "msg", "data"} and body["data"] == [], body
        return body


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_answer(sock: socket.socket, timeout: float = 10.0) -> Answer:
    """The next HTTP answer on ``sock``, or ``Answer(None)`` when the server closes first."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return Answer(None)
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except ConnectionResetError:
        return Answer(None)
    return Answer(int(lines[0].split()[1]), headers, body)


def closed_within(sock: socket.socket, bound: float) -> bool:
    """Whether the server closes ``sock`` within ``bound`` seconds (reading what it sends)."""
    deadline = time.monotonic() + bound
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def exchange(port: int, *parts: bytes, timeout: float = 10.0) -> tuple[Answer, bool]:
    """Send ``parts``, read the answer; also say whether the server then closed."""
    with connect(port) as sock:
        for part in parts:
            sock.sendall(part)
        answer = read_answer(sock, timeout)
        return answer, closed_within(sock, timeout)


def send_until_answered(sock: socket.socket, chunks: Any, *, chunk_wait: float = 0.002) -> int:
    """Send ``chunks`` one by one until the server answers (or stops reading); the bytes sent."""
    sent = 0
    for chunk in chunks:
        if select.select([sock], [], [], 0)[0]:
            break
        try:
            sock.settimeout(5)
            sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            break
        sent += len(chunk)
        if select.select([sock], [], [], chunk_wait)[0]:
            break
    return sent


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    """The process's resident memory (or its peak, ``VmHWM``) in MiB, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field_name} for process {pid}")


def request(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# -- WebSocket frames, as a client sends them (masked) -----------------------------------
def ws_handshake(port: int, path: str = "/ws/v5/private") -> socket.socket:
    sock = connect(port)
    sock.sendall(request("GET", path, "Upgrade: websocket", "Connection: Upgrade",
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                         "Sec-WebSocket-Version: 13"))
    answer = read_answer(sock)
    assert answer.status == 101, answer
    return sock


def ws_frame(opcode: int, payload: bytes, *, masked: bool = True, length: int | None = None
             ) -> bytes:
    """One final frame; ``length`` declares another length than the payload's."""
    n = len(payload) if length is None else length
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = bytes([0x80 | opcode, mask_bit | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, mask_bit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_close_code(sock: socket.socket, timeout: float = 10.0) -> int | None:
    """Read server frames until its close frame; its code (None: closed without one)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
            while len(data) >= 2:
                opcode, n = data[0] & 0x0F, data[1] & 0x7F
                start = 2
                if n == 126:
                    n, start = int.from_bytes(data[2:4], "big"), 4
                elif n == 127:
                    n, start = int.from_bytes(data[2:10], "big"), 10
                if len(data) < start + n:
                    break
                payload, data = data[start:start + n], data[start + n:]
                if opcode == 0x8:
                    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
    except (ConnectionResetError, TimeoutError):
        return None
