"""A small RTSP camera for tests: H.264 over RTP, interleaved on the RTSP TCP connection (RFC 2326 s10.12).

The RTP packets come from FFmpeg itself (``capture_h264_rtp``: libx264 + FFmpeg's RTP muxer, sent to a local
UDP socket once per test module); ``RtspCamera`` replays them to each client in real time, paced by the RTP
timestamps. It answers OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN (and GET_PARAMETER keep-alives), replies
461 to UDP transports so the client falls back to TCP, and listens on 127.0.0.1 only. Each PLAY follows the
next ``Session`` plan (stream all, stop after some seconds and close, or stop and hold the connection open);
after the last plan's PLAY the listening socket closes, so later connections are refused. Everything stops
by itself within ``lifetime`` seconds.
"""

from __future__ import annotations

import re
import select
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RTP_CHANNEL, RTCP_CHANNEL = 0, 1


@dataclass(frozen=True)
class RtpCapture:
    """RTP (channel 0) and RTCP (channel 1) packets as FFmpeg sent them, and its SDP media attributes."""

    packets: tuple[tuple[int, bytes], ...]
    media_attributes: tuple[str, ...]  # a=rtpmap / a=fmtp lines of FFmpeg's SDP
    frames: int

    def send_times(self) -> list[float]:
        """Seconds after PLAY at which each packet is due: its RTP timestamp (90 kHz) from the first one."""
        times: list[float] = []
        first: int | None = None
        last = 0.0
        for channel, packet in self.packets:
            if channel == RTP_CHANNEL:
                stamp = int.from_bytes(packet[4:8], "big")
                first = stamp if first is None else first
                last = ((stamp - first) % 2**32) / 90000
            times.append(max(times[-1], last) if times else last)  # in order: B-frames' stamps go back
        return times


def capture_h264_rtp(workdir: Path, *, seconds: int = 3, size: str = "320x240", rate: int = 25) -> RtpCapture:
    """Encode testsrc2 with libx264 and catch FFmpeg's RTP/RTCP output on two local UDP sockets."""
    rtp, rtcp = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    try:
        for s in (rtp, rtcp):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # the whole clip fits: no loss
            s.bind(("127.0.0.1", 0))
        sdp = workdir / "ffmpeg.sdp"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}", "-t", str(seconds),
             "-c:v", "libx264", "-g", str(rate), "-bsf:v", "dump_extra",  # SPS/PPS before every key frame
             "-rtpflags", "send_bye",  # RTCP BYE at the end: the client sees a clean end of stream
             "-sdp_file", str(sdp), "-f", "rtp",
             f"rtp://127.0.0.1:{rtp.getsockname()[1]}?rtcpport={rtcp.getsockname()[1]}"],
            check=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        rtp_packets, rtcp_packets = _drain(rtp), _drain(rtcp)
    finally:
        rtp.close()
        rtcp.close()
    seqs = [int.from_bytes(p[2:4], "big") for p in rtp_packets]
    if not seqs or any((b - a) % 65536 != 1 for a, b in zip(seqs, seqs[1:], strict=False)):
        raise RuntimeError("RTP capture lost packets")
    packets = _interleave(rtp_packets, rtcp_packets)
    attributes = tuple(line for line in sdp.read_text().splitlines() if line.startswith(("a=rtpmap", "a=fmtp")))
    return RtpCapture(packets=tuple(packets), media_attributes=attributes, frames=seconds * rate)


def _drain(sock: socket.socket) -> list[bytes]:
    packets = []
    while select.select([sock], [], [], 0.3)[0]:
        packets.append(sock.recv(65536))
    return packets


def _interleave(rtp: list[bytes], rtcp: list[bytes]) -> tuple[tuple[int, bytes], ...]:
    """One send order for both sockets' packets: each RTCP sender report before the first RTP packet at or
    after its RTP timestamp, the report carrying the BYE (packet type 203) last."""

    def offset(stamp: int) -> int:  # signed distance from the first RTP timestamp, modulo 2**32
        return (stamp - int.from_bytes(rtp[0][4:8], "big") + 2**31) % 2**32 - 2**31

    def is_bye(report: bytes) -> bool:
        at = 0
        while at + 4 <= len(report):
            if report[at + 1] == 203:
                return True
            at += 4 * (int.from_bytes(report[at + 2 : at + 4], "big") + 1)
        return False

    reports = sorted((r for r in rtcp if not is_bye(r)), key=lambda r: offset(int.from_bytes(r[16:20], "big")))
    order: list[tuple[int, bytes]] = []
    for packet in rtp:
        while reports and offset(int.from_bytes(reports[0][16:20], "big")) <= offset(
            int.from_bytes(packet[4:8], "big")
        ):
            order.append((RTCP_CHANNEL, reports.pop(0)))
        order.append((RTP_CHANNEL, packet))
    order += [(RTCP_CHANNEL, r) for r in reports + [r for r in rtcp if is_bye(r)]]
    return tuple(order)


@dataclass(frozen=True)
class Session:
    """What one PLAY gets: the whole capture, or the first ``stop_after`` seconds of it and then the
    connection is closed (``then="close"``) or kept open with nothing more sent (``then="hold"``)."""

    stop_after: float | None = None
    then: Literal["close", "hold"] = "close"


class RtspCamera:
    """Serves ``capture`` at rtsp://127.0.0.1:PORT/cam, one ``Session`` plan per PLAY."""

    PATH = "/cam"

    def __init__(self, capture: RtpCapture, sessions: tuple[Session, ...] = (Session(),), lifetime: float = 25):
        self.capture = capture
        self.sessions = sessions
        self.transports: list[str] = []  # every SETUP's Transport header, in order
        self.plays = 0
        self.teardowns = 0
        self._send_times = capture.send_times()
        self._deadline = time.monotonic() + lifetime
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"rtsp://127.0.0.1:{self.port}{self.PATH}"
        self._threads: list[threading.Thread] = []
        self._accept_thread = threading.Thread(target=self._accept, daemon=True)
        self._accept_thread.start()

    # --- lifecycle ----------------------------------------------------------------------------------
    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def _accept(self) -> None:
        with self._listener:
            while self._running() and self.plays < len(self.sessions):
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(thread)
                thread.start()
        # Closed: later connections are refused.

    def stop(self) -> None:
        self._stop.set()
        self._accept_thread.join(5)
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> RtspCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- one client connection ----------------------------------------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buffered = b""
            plan: Session | None = None  # set by PLAY
            started = 0.0
            sent = 0
            channels = (RTP_CHANNEL, RTCP_CHANNEL)
            while self._running():
                wait = 0.1
                if plan is not None and sent < len(self._send_times):
                    wait = max(0.0, min(wait, started + self._send_times[sent] - time.monotonic()))
                ready, _, _ = select.select([conn], [], [], wait)
                if ready:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return  # the client went away
                    buffered += data
                    while True:
                        request, buffered = _next_request(buffered)
                        if request is None:
                            break
                        if request:  # b"" was an interleaved RTCP report from the client: ignored
                            reply, action = self._answer(request)
                            conn.sendall(reply)
                            if action == "teardown":
                                return
                            if action.startswith("play"):
                                plan, started, sent = self.sessions[int(action[4:])], time.monotonic(), 0
                            elif action.startswith("interleaved="):
                                channels = _channels(action)
                if plan is None:
                    continue
                elapsed = time.monotonic() - started
                while sent < len(self._send_times) and self._send_times[sent] <= elapsed:
                    if plan.stop_after is not None and self._send_times[sent] >= plan.stop_after:
                        if plan.then == "close":
                            return
                        sent = len(self._send_times)  # hold: nothing more is ever sent
                        break
                    channel, packet = self.capture.packets[sent]
                    try:
                        conn.sendall(b"$" + bytes([channels[channel]]) + len(packet).to_bytes(2, "big") + packet)
                    except OSError:
                        return
                    sent += 1

    def _answer(self, request: bytes) -> tuple[bytes, str]:
        """The reply to one RTSP request, and what the connection does next."""
        head = request.decode("latin-1").split("\r\n")
        method, url = (head[0].split(" ") + ["", ""])[:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        cseq = headers.get("cseq", "0")

        def reply(status: str, extra: tuple[str, ...] = (), body: bytes = b"") -> bytes:
            lines = [f"RTSP/1.0 {status}", f"CSeq: {cseq}", *extra]
            if body:
                lines.append(f"Content-Length: {len(body)}")
            return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

        session = "Session: 4711;timeout=60"
        if method == "OPTIONS":
            return reply("200 OK", ("Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER",)), ""
        if method == "DESCRIBE":
            if not url.rstrip("/").endswith(self.PATH):
                return reply("404 Not Found"), ""
            sdp = "\r\n".join(["v=0", "o=- 0 0 IN IP4 127.0.0.1", "s=kuzet test camera", "c=IN IP4 0.0.0.0",
                               "t=0 0", "a=control:*", "m=video 0 RTP/AVP 96", *self.capture.media_attributes,
                               "a=control:streamid=0", ""])  # fmt: skip
            base = f"Content-Base: rtsp://127.0.0.1:{self.port}{self.PATH}/"
            return reply("200 OK", (base, "Content-Type: application/sdp"), sdp.encode()), ""
        if method == "SETUP":
            transport = headers.get("transport", "")
            with self._lock:
                self.transports.append(transport)
            if "RTP/AVP/TCP" not in transport:
                return reply("461 Unsupported Transport"), ""
            match = re.search(r"interleaved=(\d+)-(\d+)", transport)
            pair = f"{match.group(1)}-{match.group(2)}" if match else "0-1"
            transport_reply = f"Transport: RTP/AVP/TCP;unicast;interleaved={pair}"
            return reply("200 OK", (transport_reply, session)), f"interleaved={pair}"
        if method == "PLAY":
            with self._lock:
                if self.plays >= len(self.sessions):
                    return reply("503 Service Unavailable"), ""
                index = self.plays
                self.plays += 1
            first_rtp = next(p for c, p in self.capture.packets if c == RTP_CHANNEL)
            info = (f"RTP-Info: url=rtsp://127.0.0.1:{self.port}{self.PATH}/streamid=0;"
                    f"seq={int.from_bytes(first_rtp[2:4], 'big')};rtptime={int.from_bytes(first_rtp[4:8], 'big')}")
            return reply("200 OK", (session, "Range: npt=0.000-", info)), f"play{index}"
        if method == "TEARDOWN":
            with self._lock:
                self.teardowns += 1
            return reply("200 OK", (session,)), "teardown"
        if method == "GET_PARAMETER":
            return reply("200 OK", (session,)), ""
        return reply("405 Method Not Allowed"), ""


def _channels(action: str) -> tuple[int, int]:
    rtp, rtcp = action.removeprefix("interleaved=").split("-")
    return int(rtp), int(rtcp)


def _next_request(buffered: bytes) -> tuple[bytes | None, bytes]:
    """(one complete request, the rest); b"" for an interleaved packet from the client, None if incomplete."""
    if buffered.startswith(b"$"):
        if len(buffered) < 4:
            return None, buffered
        end = 4 + int.from_bytes(buffered[2:4], "big")
        return (b"", buffered[end:]) if len(buffered) >= end else (None, buffered)
    head_end = buffered.find(b"\r\n\r\n")
    if head_end < 0:
        return None, buffered
    length = re.search(rb"(?im)^content-length:\s*(\d+)", buffered[:head_end])
    end = head_end + 4 + (int(length.group(1)) if length else 0)
    if len(buffered) < end:
        return None, buffered
    return buffered[:head_end], buffered[end:]
