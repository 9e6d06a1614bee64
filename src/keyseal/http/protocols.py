"""The HTTP and WebSocket protocols ``keyseal serve`` runs: uvicorn's own (httptools, and
websockets' sans-I/O), with the limits uvicorn leaves out, so that slow or greedy clients
cannot hold the server's connections or memory.

What uvicorn alone does, measured with raw sockets: a connection that sends nothing, or half a
header, or a body shorter than its Content-Length, is never closed (no timer runs until a
response has been sent, and the first byte of the next request cancels that one); a 64 MB
header is accepted (httptools holds it whole); ``limit_concurrency`` counts idle connections
and refuses in plain text. Here:

=====================================  ======  =====  =====================================
case                                   status  code   envelope?
=====================================  ======  =====  =====================================
headers not complete in time           408     70050  yes; a connection that sent nothing
                                                      is closed without an answer
body not complete in time              408     70051  yes, unless the answer has started
request line + headers over the limit  431     70052  yes, refused before they are held
more header fields than the limit      431     70052  yes
target over the limit                  414     70053  yes (httptools itself stops at 64 KB)
malformed: control bytes, Content-     400     70054  yes, with llhttp's reason; a client
Length with Transfer-Encoding, bad                    that does not speak HTTP/1 (TLS on
chunk sizes, an invalid method, …                     the plain port, HTTP/2 prior
                                                      knowledge) cannot read it
more connections than the limit        503     50001  yes, then closed
WebSocket frame errors                 close   1002/  no: a WebSocket is past HTTP; one log
(masking, opcode, UTF-8, size)         frame   1007/  line each, never a traceback
                                               1009
=====================================  ======  =====  =====================================

The head is measured as its bytes arrive, before httptools buffers them; bytes of a pipelined
request that arrive in the same read as the end of the one before are counted from the next
read on, so a head may pass its limit by at most one read.
"""

from __future__ import annotations

import logging
import time
from asyncio import BaseTransport, TimerHandle
from collections.abc import Callable
from typing import Any, ClassVar, cast

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from keyseal import errors
from keyseal.http import envelope
from keyseal.settings import ConnectionLimits

log = logging.getLogger("keyseal.connections")
_END_OF_HEAD = b"\r\n\r\n"
#: the method, spaces and ``HTTP/1.1`` around a request target
_REQUEST_LINE_EXTRA = 32
#: a connection over the limit waits at most this long for its request, then gets its 503
_OVER_CAPACITY_WAIT_S = 1.0


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines, head limits and a connection limit."""

    limits: ClassVar[ConnectionLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_concurrency = None  # replaced by limits.max_connections, with an envelope
        self._deadline: TimerHandle | None = None
        self._over_capacity = False
        self._start_head()

    def _start_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._line_bytes = 0
        self._in_request_line = True
        self._head_tail = b""
        self._header_count = 0

    # -- deadlines -----------------------------------------------------------------------
    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_timed_out(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False  # the request before is still answered: close after it
        elif self._over_capacity:
            self._refuse(errors.SERVICE_UNAVAILABLE(detail="connection limit reached"))
        elif self._head_bytes:
            self._refuse(errors.HEADERS_TIMEOUT(f"{self.limits.header_timeout_s:g}"))
        else:  # nothing asked, nothing to answer
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if cycle is None or cycle.response_started:  # answered already (early refusal)
            self.transport.close()
        else:
            self._refuse(errors.BODY_TIMEOUT(f"{self.limits.body_timeout_s:g}"))

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        limits = self.limits
        self._over_capacity = len(self.connections) > limits.max_connections
        self._arm(min(limits.header_timeout_s, _OVER_CAPACITY_WAIT_S) if self._over_capacity
                  else limits.header_timeout_s, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's, with the head measured before the parser holds it, and every refusal
        # answered with an envelope instead of uvicorn's plain-text 400
        self._unset_keepalive_if_required()
        if self._in_head:
            if self._deadline is None:
                self._arm(self.limits.header_timeout_s, self._head_timed_out)
            refusal = self._measure_head(data)
            if refusal is not None:
                self._refuse(refusal)
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as failure:
            self._refuse(_parser_refusal(failure))

    def _measure_head(self, data: bytes) -> errors.OkxError | None:
        limits = self.limits
        if self._in_request_line:
            newline = data.find(b"\n")
            self._in_request_line = newline < 0
            self._line_bytes += len(data) if newline < 0 else newline
            if self._line_bytes > limits.max_target_bytes + _REQUEST_LINE_EXTRA:
                return errors.TARGET_TOO_LONG(limits.max_target_bytes)
        seen = self._head_tail + data
        end = seen.find(_END_OF_HEAD)
        self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._head_tail))
        self._head_tail = seen[-3:]
        if self._head_bytes > limits.max_header_bytes:
            return errors.HEADERS_TOO_LARGE(limits.max_header_bytes, limits.max_headers)
        return None

    # -- parser callbacks ----------------------------------------------------------------
    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_target_bytes:
            raise errors.TARGET_TOO_LONG(self.limits.max_target_bytes)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise errors.HEADERS_TOO_LARGE(self.limits.max_header_bytes, self.limits.max_headers)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        if self._over_capacity:
            raise errors.SERVICE_UNAVAILABLE(detail="connection limit reached")
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._arm(self.limits.body_timeout_s, self._body_timed_out)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._start_head()

    # -- refusals ------------------------------------------------------------------------
    def _refuse(self, refusal: errors.OkxError) -> None:
        """Answer with the envelope, then close; the app never sees this request."""
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if self._in_head:  # a pipelined request broke while the one before is answered
                cycle.keep_alive = False
                self.flow.pause_reading()
                return
            if cycle.response_started:
                self.transport.close()
                return
            cycle.disconnected = True  # its body did not arrive whole: no answer from the app
        client = self.client[0] if self.client else "?"
        log.info("refused a request from %s before any route: %s %s", client, refusal.code,
                 refusal.detail or refusal.message)
        status, body = envelope.failure(refusal)
        self.transport.write(b"".join([
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-keyseal-server-time: %d\r\n" % int(time.time() * 1000),
            b"connection: close\r\n\r\n",
            body,
        ]))
        self.transport.close()


def _parser_refusal(failure: httptools.HttpParserError) -> errors.OkxError:
    raised = failure.__context__  # what a callback of ours raised, if it did
    if isinstance(raised, errors.OkxError):
        return raised
    if isinstance(failure, httptools.HttpParserCallbackError):
        return errors.MALFORMED_HTTP("the request target cannot be parsed", detail=repr(raised))
    # llhttp's reasons are fixed phrases ("Invalid header value char"), never request bytes
    return errors.MALFORMED_HTTP(str(failure)[:100])


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, logging a broken frame in one line: which
    client, which close code, why (uvicorn logs nothing for most, a traceback for bad UTF-8)."""

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError:
                self.frames = []
                self.conn.send_close(1007, "invalid UTF-8")
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()

    def handle_parser_exception(self) -> None:
        closed = self.conn.close_sent
        client = self.client[0] if self.client else "?"
        log.warning("websocket from %s closed with %s: %s", client,
                    closed.code if closed else "?",
                    self.conn.parser_exc or (closed.reason if closed else ""))
        super().handle_parser_exception()


def http_protocol(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """The HTTP protocol class for uvicorn's ``http=``, bound to these limits."""
    return cast(type[GuardedHttpProtocol],
                type("KeysealHttpProtocol", (GuardedHttpProtocol,), {"limits": limits}))
