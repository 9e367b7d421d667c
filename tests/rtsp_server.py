"""A small RTSP camera for tests: H.264 (and AAC) over RTP, interleaved on the RTSP TCP connection (RFC 2326
s10.12).

The RTP packets come from FFmpeg itself (``capture_h264_rtp``: libx264 + FFmpeg's RTP muxer, sent to local UDP
sockets once per test module; ``capture_h264_aac_rtp``: the same with an AAC stream through a second RTP
muxer, RTCP sender reports included); ``RtspCamera`` replays them to each client in real time, each stream
paced by its own RTP clock and the streams placed against each other by their sender reports. Its SDP has one
media line per stream, each with its own ``a=control``; each stream is SETUP on its own interleaved channel
pair (the client's choice, e.g. 0-1 video, 2-3 audio) and only the streams set up are sent. It answers
OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN (and GET_PARAMETER keep-alives), replies 461 to UDP transports so
the client falls back to TCP, and listens on 127.0.0.1 only. Each PLAY follows the next ``Session`` plan
(stream all, stop after some seconds and close, or stop and hold the connection open); after the last plan's
PLAY the listening socket closes, so later connections are refused. ``sent`` keeps what each PLAY sent.
Everything stops by itself within ``lifetime`` seconds.
"""

from __future__ import annotations

import heapq
import re
import select
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RTP_CHANNEL, RTCP_CHANNEL = 0, 1  # the first stream's; stream i sends RTP on 2i and RTCP on 2i + 1
RTCP_SR, RTCP_BYE = 200, 203


@dataclass(frozen=True)
class RtpStream:
    """One media line of FFmpeg's SDP: its m= line (port 0), its b=/a=rtpmap/a=fmtp lines, its RTP clock."""

    media: str  # "video" or "audio"
    sdp: tuple[str, ...]  # the m= line first
    clock_rate: int


@dataclass(frozen=True)
class RtpCapture:
    """FFmpeg's RTP and RTCP packets of every stream in one send order (stream i: RTP on channel 2i, RTCP on
    2i + 1), the second after PLAY at which each is due, and the streams' SDP."""

    packets: tuple[tuple[int, bytes], ...]
    times: tuple[float, ...]
    streams: tuple[RtpStream, ...]
    frames: int
    clocks: tuple[tuple[float, int], ...]  # per stream: (sender time, RTP timestamp) of its first sender report

    def sender_time(self, stream: int, stamp: int) -> float:
        """When (sender's clock, seconds) RTP timestamp `stamp` of `stream` was sampled, by its sender report."""
        at, ref = self.clocks[stream]
        return at + ((stamp - ref + 2**31) % 2**32 - 2**31) / self.streams[stream].clock_rate

    @property
    def media_attributes(self) -> tuple[str, ...]:  # the first stream's a=rtpmap / a=fmtp lines
        return tuple(line for line in self.streams[0].sdp if line.startswith("a="))

    def send_times(self) -> list[float]:
        return list(self.times)

    def rtp(self, stream: int, packets: Sequence[tuple[int, bytes]] | None = None) -> list[bytes]:
        """The RTP packets of `stream`, in order, among `packets` (default: the whole capture)."""
        return [p for c, p in (self.packets if packets is None else packets) if c == 2 * stream]


def capture_h264_rtp(workdir: Path, *, seconds: int = 3, size: str = "320x240", rate: int = 25) -> RtpCapture:
    """Encode testsrc2 with libx264 and catch FFmpeg's RTP/RTCP output on two local UDP sockets."""
    return _capture(workdir, [["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]],
                    [_h264_output(rate)], frames=seconds * rate)  # fmt: skip


def capture_h264_aac_rtp(
    workdir: Path, *, seconds: int = 3, size: str = "160x120", rate: int = 25, realtime: bool = False
) -> RtpCapture:
    """testsrc2 (libx264) and seeded pink noise (AAC-LC, 48 kHz stereo, RFC 3640 AAC-hbr: several AAC frames
    per RTP packet) from one FFmpeg run, each stream through its own RTP muxer. `realtime`: FFmpeg reads its
    inputs at their own pace (-re), so its sender reports carry real send times: the first comes about a
    second into the stream (after x264's look-ahead), as from a camera whose first report comes late;
    otherwise the whole clip is sent at once and each stream's first report precedes its first packet."""
    pace = ["-re"] if realtime else []
    inputs = [[*pace, "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"],
              [*pace, "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c=pink:r=48000:a=0.3:seed=7"]]  # fmt: skip
    audio = ["-map", "1:a", "-c:a", "aac", "-b:a", "64k", "-ac", "2"]
    return _capture(workdir, inputs, [["-map", "0:v", *_h264_output(rate)], audio], frames=seconds * rate)


def _h264_output(rate: int) -> list[str]:
    return ["-c:v", "libx264", "-g", str(rate), "-bsf:v", "dump_extra"]  # SPS/PPS before every key frame


def _capture(workdir: Path, inputs: list[list[str]], outputs: list[list[str]], frames: int) -> RtpCapture:
    """Runs FFmpeg with one RTP output per entry of `outputs`, each caught on its own RTP and RTCP sockets."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2 * len(outputs))]
    try:
        for s in sockets:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # the whole clip fits: no loss
            s.bind(("127.0.0.1", 0))
        sdp = workdir / "ffmpeg.sdp"
        command = ["ffmpeg", "-v", "error"]
        for source in inputs:
            command += source
        for i, output in enumerate(outputs):
            rtp, rtcp = (s.getsockname()[1] for s in sockets[2 * i : 2 * i + 2])
            command += [*output, "-rtpflags", "send_bye",  # RTCP BYE at the end: the client sees a clean end
                        "-f", "rtp", f"rtp://127.0.0.1:{rtp}?rtcpport={rtcp}"]  # fmt: skip
        subprocess.run([*command, "-sdp_file", str(sdp)], check=True, timeout=60, stdin=subprocess.DEVNULL)
        caught = [_drain(s) for s in sockets]
    finally:
        for s in sockets:
            s.close()
    for rtp in caught[::2]:
        seqs = [int.from_bytes(p[2:4], "big") for p in rtp]
        if not seqs or any((b - a) % 65536 != 1 for a, b in zip(seqs, seqs[1:], strict=False)):
            raise RuntimeError("RTP capture lost packets")
    streams = _sdp_streams(sdp.read_text())
    if len(streams) != len(outputs):
        raise RuntimeError(f"FFmpeg's SDP describes {len(streams)} streams, not {len(outputs)}")
    packets, times, clocks = _interleave(streams, caught[::2], caught[1::2])
    return RtpCapture(packets=packets, times=times, streams=streams, frames=frames, clocks=clocks)


def _sdp_streams(sdp: str) -> tuple[RtpStream, ...]:
    streams: list[list[str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind, _port, *rest = line[2:].split(" ")
            streams.append([f"m={kind} 0 {' '.join(rest)}"])
        elif streams and line.startswith(("b=", "a=rtpmap", "a=fmtp")):
            streams[-1].append(line)
    out = []
    for lines in streams:
        rtpmap = next(line for line in lines if line.startswith("a=rtpmap"))
        out.append(RtpStream(media=lines[0][2:].split(" ")[0], sdp=tuple(lines),
                             clock_rate=int(rtpmap.split("/")[1])))  # fmt: skip
    return tuple(out)


def _drain(sock: socket.socket) -> list[bytes]:
    packets = []
    while select.select([sock], [], [], 0.3)[0]:
        packets.append(sock.recv(65536))
    return packets


def _rtcp_types(report: bytes) -> list[int]:
    """The packet types of a compound RTCP packet."""
    types, at = [], 0
    while at + 4 <= len(report):
        types.append(report[at + 1])
        at += 4 * (int.from_bytes(report[at + 2 : at + 4], "big") + 1)
    return types


def _interleave(
    streams: tuple[RtpStream, ...], rtp: list[list[bytes]], rtcp: list[list[bytes]]
) -> tuple[tuple[tuple[int, bytes], ...], tuple[float, ...], tuple[tuple[float, int], ...]]:
    """One send order for every socket's packets, and when each is due. Each stream is paced by its own RTP
    clock; the streams are placed against each other (and each sender report among its stream's packets) by
    the (NTP time, RTP timestamp) pair of the stream's first sender report, as a receiver synchronises them.
    The reports carrying a BYE go last, after every stream's packets."""
    timelines: list[list[tuple[float, int, bytes]]] = []
    byes: list[tuple[int, bytes]] = []
    clocks: list[tuple[float, int]] = []
    for i, (stream, packets, reports) in enumerate(zip(streams, rtp, rtcp, strict=True)):
        senders = [r for r in reports if RTCP_BYE not in _rtcp_types(r) and r[1] == RTCP_SR]
        byes += [(2 * i + 1, r) for r in reports if RTCP_BYE in _rtcp_types(r)]
        anchor = senders[0] if senders else packets[0]
        anchor_stamp = int.from_bytes(anchor[16:20] if senders else anchor[4:8], "big")
        anchor_time = int.from_bytes(anchor[8:16], "big") / 2**32 if senders else 0.0
        clocks.append((anchor_time, anchor_stamp))

        def at(stamp: int, clock: int = stream.clock_rate, ref: int = anchor_stamp, t0: float = anchor_time) -> float:
            return t0 + ((stamp - ref + 2**31) % 2**32 - 2**31) / clock  # signed, modulo 2**32

        events = [(at(int.from_bytes(r[16:20], "big")), 0, 2 * i + 1, r) for r in senders]
        latest = float("-inf")
        for packet in packets:  # in order: B-frames' stamps go back
            latest = max(latest, at(int.from_bytes(packet[4:8], "big")))
            events.append((latest, 1, 2 * i, packet))
        events.sort(key=lambda e: (e[0], e[1]))  # stable: RTP packets keep their order; a report goes first
        timelines.append([(t, channel, packet) for t, _, channel, packet in events])
    merged = list(heapq.merge(*timelines, key=lambda e: e[0]))
    start = min(t for t, channel, _ in merged if channel % 2 == 0)  # PLAY: the first RTP packet goes at once
    order = [(channel, packet) for _, channel, packet in merged] + byes
    times = [max(0.0, t - start) for t, _, _ in merged]
    times += [times[-1]] * len(byes)
    return tuple(order), tuple(times), tuple(clocks)


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
        self.sent: list[list[tuple[int, bytes]]] = []  # per PLAY: the capture's packets it sent, in order
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
            play = -1
            started = 0.0
            sent = 0
            channels: dict[int, tuple[int, int]] = {}  # stream -> the client's (RTP, RTCP) channels, by SETUP
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
                                play = int(action[4:])
                                plan, started, sent = self.sessions[play], time.monotonic(), 0
                            elif action.startswith("setup"):
                                stream, rtp, rtcp = (int(n) for n in action[5:].split(","))
                                channels[stream] = (rtp, rtcp)
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
                    sent += 1
                    if channel // 2 not in channels:
                        continue  # a stream the client did not set up
                    interleaved = channels[channel // 2][channel % 2]
                    try:
                        conn.sendall(b"$" + bytes([interleaved]) + len(packet).to_bytes(2, "big") + packet)
                    except OSError:
                        return
                    with self._lock:
                        self.sent[play].append((channel, packet))

    def _answer(self, request: bytes) -> tuple[bytes, str]:
        """The reply to one RTSP request, and what the connection does next."""
        head = request.decode("latin-1").split("\r\n")
        method, url = (head[0].split(" ") + ["", ""])[:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        cseq = headers.get("cseq", "0")
        base = f"rtsp://127.0.0.1:{self.port}{self.PATH}/"

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
            sdp = ["v=0", "o=- 0 0 IN IP4 127.0.0.1", "s=kuzet test camera", "c=IN IP4 0.0.0.0", "t=0 0",
                   "a=control:*"]  # fmt: skip
            for i, media in enumerate(self.capture.streams):
                sdp += [*media.sdp, f"a=control:streamid={i}"]
            body = "\r\n".join([*sdp, ""]).encode()
            return reply("200 OK", (f"Content-Base: {base}", "Content-Type: application/sdp"), body), ""
        if method == "SETUP":
            transport = headers.get("transport", "")
            with self._lock:
                self.transports.append(transport)
            control = re.search(r"/streamid=(\d+)$", url)
            stream = int(control.group(1)) if control else 0
            if stream >= len(self.capture.streams):
                return reply("404 Not Found"), ""
            if "RTP/AVP/TCP" not in transport:
                return reply("461 Unsupported Transport"), ""
            match = re.search(r"interleaved=(\d+)-(\d+)", transport)
            rtp, rtcp = (int(match.group(1)), int(match.group(2))) if match else (2 * stream, 2 * stream + 1)
            transport_reply = f"Transport: RTP/AVP/TCP;unicast;interleaved={rtp}-{rtcp}"
            return reply("200 OK", (transport_reply, session)), f"setup{stream},{rtp},{rtcp}"
        if method == "PLAY":
            with self._lock:
                if self.plays >= len(self.sessions):
                    return reply("503 Service Unavailable"), ""
                index = self.plays
                self.plays += 1
                self.sent.append([])
            infos = []
            for i in range(len(self.capture.streams)):
                first = self.capture.rtp(i)[0]
                infos.append(f"url={base}streamid={i};seq={int.from_bytes(first[2:4], 'big')};"
                             f"rtptime={int.from_bytes(first[4:8], 'big')}")  # fmt: skip
            return reply("200 OK", (session, "Range: npt=0.000-", "RTP-Info: " + ",".join(infos))), f"play{index}"
        if method == "TEARDOWN":
            with self._lock:
                self.teardowns += 1
            return reply("200 OK", (session,)), "teardown"
        if method == "GET_PARAMETER":
            return reply("200 OK", (session,)), ""
        return reply("405 Method Not Allowed"), ""


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
