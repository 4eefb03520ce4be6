"""The standing abuse suite: attacks a running learning-server over loopback and asserts the bound
each one must stay within (issue #19). Raw sockets and the python `h2` library, no gRPC stack, so
that the client can misbehave exactly as an attacker would.

Usage: abuse_suite.py ADDRESS SERVER_PID API_KEY REQUEST_TIMEOUT_S SERVER_BINARY DATABASE_URL [CASE...]
The server at ADDRESS must run with LEARNING_API_KEYS=API_KEY and
LEARNING_REQUEST_TIMEOUT_SECONDS=REQUEST_TIMEOUT_S; SERVER_BINARY and DATABASE_URL start a second
server of its own for the descriptor-exhaustion case. Memory is the server's VmRSS
(/proc/PID/status), CPU its utime+stime (/proc/PID/stat). Prints one line per check with the
figure measured; exits 1 on the first failed check.
"""
import os
import re
import resource
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions

ADDRESS, PID, API_KEY, TIMEOUT_S = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
BINARY, DATABASE_URL = sys.argv[5], sys.argv[6]
CASES = sys.argv[7:]
HOST, PORT = ADDRESS.rsplit(":", 1)
PORT = int(PORT)
MIB = 1 << 20
BATCH_PATH = "/executions/batch"
GRPC_LOG_EXECUTIONS = "/learning.v1.LearningSystem/LogExecutions"
GRPC_PREDICT = "/learning.v1.LearningSystem/PredictPerformance"


def check(condition, what):
    if not condition:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok   {what}", flush=True)


def rss_bytes(pid=PID):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid=PID):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class H2Client:
    """One h2c connection driven by hand (non-blocking after the preface)."""

    def __init__(self, host=HOST, port=PORT, window=65535):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()
        self.sock.setblocking(False)
        self.responses = {}   # stream id -> {"headers": [...], "trailers": [...], "data": bytes, "ended": bool}
        self.reset = {}       # stream id -> error code
        self.goaway = None
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if not data:
            return
        blocking = self.sock.getblocking()
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True
        finally:
            self.sock.setblocking(blocking)

    def headers(self, path, content_type, end_stream=False, extra=(), method="POST"):
        stream = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "abuse"),
                   ("content-type", content_type)]
        if content_type.startswith("application/grpc"):
            headers.append(("te", "trailers"))
        headers.extend(extra)
        self.conn.send_headers(stream, headers, end_stream=end_stream)
        self.flush()
        return stream

    def pump(self, wait=0.0):
        """Reads what the server sends for `wait` seconds (0: what is there now)."""
        if self.closed:
            return
        deadline = time.time() + wait
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                if time.time() >= deadline:
                    return
                time.sleep(0.005)
                continue
            except OSError:
                self.closed = True
                return
            if not data:
                self.closed = True
                return
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                self.closed = True
                return
            for event in events:
                self.on(event)
            self.flush()

    def on(self, event):
        if isinstance(event, h2.events.ResponseReceived):
            self.responses.setdefault(event.stream_id, {"headers": [], "trailers": [], "data": b"", "ended": False})
            self.responses[event.stream_id]["headers"] = event.headers
        elif isinstance(event, h2.events.TrailersReceived):
            self.responses.setdefault(event.stream_id, {"headers": [], "trailers": [], "data": b"", "ended": False})
            self.responses[event.stream_id]["trailers"] = event.headers
        elif isinstance(event, h2.events.DataReceived):
            self.responses.setdefault(event.stream_id, {"headers": [], "trailers": [], "data": b"", "ended": False})
            self.responses[event.stream_id]["data"] += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.responses.setdefault(event.stream_id, {"headers": [], "trailers": [], "data": b"", "ended": False})
            self.responses[event.stream_id]["ended"] = True
        elif isinstance(event, h2.events.StreamReset):
            self.reset[event.stream_id] = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event.error_code

    def send_what_fits(self, stream, remaining):
        """Sends as much of `remaining` bytes as the windows allow; returns how many it sent."""
        if self.closed or stream in self.reset or self.responses.get(stream, {}).get("ended"):
            return 0
        try:
            allowed = min(remaining, self.conn.local_flow_control_window(stream))
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            return 0
        sent = 0
        while allowed > 0:
            chunk = min(allowed, self.conn.max_outbound_frame_size)
            try:
                self.conn.send_data(stream, b"\0" * chunk)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, h2.exceptions.FlowControlError):
                break
            allowed -= chunk
            sent += chunk
        self.flush()
        return sent

    def status(self, stream):
        response = self.responses.get(stream)
        if not response:
            return None
        return dict(response["headers"]).get(":status")

    def grpc_status(self, stream):
        return self.field(stream, "grpc-status")

    def field(self, stream, name):
        """A response header or trailer of the stream, by name."""
        response = self.responses.get(stream)
        if not response:
            return None
        fields = dict(response["headers"])
        fields.update(dict(response["trailers"]))
        return fields.get(name)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def stuff_bodies(clients_streams, per_stream, seconds):
    """Pushes up to `per_stream` body bytes (no END_STREAM) on every stream for `seconds`,
    as fast as the server's windows let it. Returns the bytes sent."""
    sent = 0
    remaining = {(id(c), s): per_stream for c, streams in clients_streams for s in streams}
    deadline = time.time() + seconds
    while time.time() < deadline:
        progress = 0
        for client, streams in clients_streams:
            client.pump()
            for stream in streams:
                key = (id(client), stream)
                if remaining[key] > 0:
                    count = client.send_what_fits(stream, remaining[key])
                    remaining[key] -= count
                    progress += count
        sent += progress
        if progress == 0:
            time.sleep(0.02)
    return sent


def probe_p99(seconds):
    """Runs the probe client in its own process (no GIL shared with the attack): GET /health over
    its own HTTP/1.1 connection, back to back; returns (requests, p99 ms, failures)."""
    code = f"""
import socket, time
s = socket.create_connection(({HOST!r}, {PORT}), timeout=60)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
lat, fail, end = [], 0, time.time() + {seconds}
req = b"GET /health HTTP/1.1\\r\\nHost: probe\\r\\n\\r\\n"
while time.time() < end:
    t = time.perf_counter()
    s.sendall(req)
    buf = b""
    while b"\\r\\n\\r\\n" not in buf:
        buf += s.recv(65536)
    head, _, body = buf.partition(b"\\r\\n\\r\\n")
    length = int([l for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(body) < length:
        body += s.recv(65536)
    lat.append((time.perf_counter() - t) * 1000)
    if not head.startswith(b"HTTP/1.1 200"):
        fail += 1
    time.sleep(0.005)
lat.sort()
print(len(lat), lat[int(len(lat) * 0.99) - 1] if lat else -1, fail)
"""
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def grpc_frame(payload, declared=None):
    length = len(payload) if declared is None else declared
    return struct.pack(">BI", 0, length) + payload


# MARK: cases

def case_unauthenticated_writes_refused_at_headers():
    """With API keys set, a write without a key is answered from its HEADERS: not a byte of its
    body is buffered, whatever the client tries to push."""
    before = rss_bytes()
    client = H2Client()
    rest = [client.headers(BATCH_PATH, "application/json") for _ in range(64)]
    grpc = [client.headers(GRPC_LOG_EXECUTIONS, "application/grpc") for _ in range(64)]
    sent = stuff_bodies([(client, rest + grpc)], 4_000_000, 3.0)
    client.pump(0.5)
    statuses = {client.status(s) for s in rest}
    codes = {client.grpc_status(s) for s in grpc}
    grown = rss_bytes() - before
    client.close()
    check(statuses == {"401"}, f"128 unauthenticated writes on one connection: REST answered {statuses}")
    check(codes == {"16"}, f"gRPC LogExecutions without a key: grpc-status {codes} (16 UNAUTHENTICATED)")
    check(grown <= 16 * MIB, f"server RSS grew {grown / MIB:.1f} MiB (bound 16 MiB) while the client pushed {sent / MIB:.1f} MiB")


def case_one_connection_bounded():
    """Reads need no key: one connection opening 128 streams and pushing 4,000,000 bytes on each
    without END_STREAM is slowed by flow control and holds at most 16 MiB of server memory."""
    before = rss_bytes()
    client = H2Client()
    streams = [client.headers(GRPC_PREDICT, "application/grpc") for _ in range(64)]
    streams += [client.headers("/ml/predict", "application/json") for _ in range(64)]
    sent = stuff_bodies([(client, streams)], 4_000_000, 4.0)
    grown = rss_bytes() - before
    client.pump(0.5)
    refused = sum(1 for s in streams if client.status(s) in ("503", "408") or client.grpc_status(s) in ("8", "4"))
    # A refusal for want of budget says when to retry: Retry-After on REST, gRPC's retry pushback.
    over_budget = [s for s in streams if client.status(s) == "503" or client.grpc_status(s) == "8"]
    untold = [s for s in over_budget if not client.field(s, "retry-after") and not client.field(s, "grpc-retry-pushback-ms")]
    client.close()
    check(not untold, f"{len(over_budget)} refused for want of budget, {len(untold)} of them without a retry delay")
    # Slowed (the connection's window), then refused (the requests holding the most when the
    # window is full of incomplete ones): what the client pushed is dropped, not held.
    check(refused > 0, f"{refused} of 128 streams refused after the client pushed {sent / MIB:.1f} MiB")
    check(grown <= 16 * MIB, f"one connection: server RSS grew {grown / MIB:.1f} MiB (bound 16 MiB)")


def case_hundred_connections_bounded():
    """100 such connections: the server holds at most 512 MiB in all and refuses past its budget,
    while a probe client on its own connection keeps p99 under 50 ms (a debug server: 250 ms; on a
    machine that other work slows down, under 10 times the p99 the same probe measures without
    the attack)."""
    quiet, _ = probe_p99(2.0).communicate(timeout=60)
    baseline = float(quiet.split()[1])
    probe = probe_p99(8.0)
    clients = []
    for _ in range(100):
        client = H2Client()
        streams = [client.headers(GRPC_PREDICT, "application/grpc") for _ in range(4)]
        streams += [client.headers("/ml/predict", "application/json") for _ in range(4)]
        clients.append((client, streams))
    sent = stuff_bodies(clients, 4_000_000, 6.0)
    peak = rss_bytes()
    refused = 0
    untold = 0
    for client, streams in clients:
        client.pump()
        over_budget = [s for s in streams if client.status(s) == "503" or client.grpc_status(s) == "8"]
        refused += len(over_budget)
        untold += sum(1 for s in over_budget if not client.field(s, "retry-after") and not client.field(s, "grpc-retry-pushback-ms"))
    out, _ = probe.communicate(timeout=120)
    count, p99, failures = out.split()
    for client, _ in clients:
        client.close()
    check(peak <= 512 * MIB, f"100 connections pushing {sent / MIB:.0f} MiB: server RSS {peak / MIB:.0f} MiB (bound 512 MiB), {refused} streams refused")
    check(int(failures) == 0 and int(count) > 50, f"probe: {count} GET /health, {failures} failed")
    check(untold == 0, f"{refused} streams refused for want of budget, {untold} of them without a retry delay")
    # 50 ms is the target for a release server (docs/BENCHMARKS.md measures it); the debug build
    # swift test runs handles bytes several times slower, so it is held to 250 ms.
    bound = max(50.0 if "/release/" in BINARY else 250.0, 10 * baseline)
    check(float(p99) < bound, f"probe p99 {float(p99):.1f} ms under attack, {baseline:.1f} ms without (bound {bound:.0f} ms)")


def minimal_batch(count, invalid_last=False):
    """A LogExecutionsRequest of `count` of the smallest valid executions (agent_name "a",
    success): 7 bytes each on the wire, 27.7x that once decoded (docs/BENCHMARKS.md). With
    `invalid_last` the last one has no agent_name: the whole request is decoded and validated,
    then refused (INVALID_ARGUMENT), so nothing is stored and the server's memory afterwards is
    what the calls in flight held, not the rows they added."""
    execution = b"\x0a\x01a\x28\x01"
    batch = (b"\x0a" + bytes([len(execution)]) + execution) * count
    if invalid_last:
        batch = batch[:-7] + b"\x0a\x02\x28\x01"
    return batch


def send_requests(client, payloads, seconds):
    """Sends each stream's whole payload and ends the stream, as fast as the windows allow, while
    reading what the server answers; samples the server's RSS all along. Returns the peak RSS."""
    offsets = {stream: 0 for stream in payloads}
    peak = rss_bytes()
    deadline = time.time() + seconds
    while time.time() < deadline:
        client.pump()
        progress = 0
        for stream, payload in payloads.items():
            offset = offsets[stream]
            if offset >= len(payload) or stream in client.reset or client.responses.get(stream, {}).get("ended"):
                continue
            try:
                allowed = min(len(payload) - offset, client.conn.local_flow_control_window(stream))
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                offsets[stream] = len(payload)
                continue
            while allowed > 0:
                chunk = min(allowed, client.conn.max_outbound_frame_size)
                end = offset + chunk >= len(payload)
                try:
                    client.conn.send_data(stream, payload[offset:offset + chunk], end_stream=end)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, h2.exceptions.FlowControlError):
                    offset = len(payload)
                    break
                offset += chunk
                allowed -= chunk
                progress += chunk
            offsets[stream] = offset
        client.flush()
        peak = max(peak, rss_bytes())
        if all(client.responses.get(s, {}).get("ended") or s in client.reset for s in payloads):
            break
        if progress == 0:
            time.sleep(0.01)
    return peak


def case_decoded_requests_bounded():
    """One authenticated connection opens 100 concurrent LogExecutions calls of 10,000 of the
    smallest executions (68 KiB each, 1.85 MiB once decoded; the last execution of each is
    invalid, so each call is decoded and validated in full and nothing is stored): the budget
    charges each what it holds decoded until its handler finishes, so the connection holds at
    most 16 MiB of them; the calls past that are refused with a retry delay, and another
    connection is served meanwhile. Bound: 16 MiB plus 8 MiB of slack for what the budget does
    not charge (the validation's records beside the decoded executions, malloc's per-thread
    arenas, which keep freed memory)."""
    calls = 100
    payload = grpc_frame(minimal_batch(10_000, invalid_last=True))
    before = rss_bytes()
    client = H2Client()
    auth = [("authorization", f"Bearer {API_KEY}")]
    streams = {client.headers(GRPC_LOG_EXECUTIONS, "application/grpc", extra=auth): payload for _ in range(calls)}
    other = H2Client()
    peak = send_requests(client, streams, 120.0)
    probe = other.headers(GRPC_LOG_EXECUTIONS, "application/grpc", extra=auth)
    other.conn.send_data(probe, grpc_frame(minimal_batch(1)), end_stream=True)
    other.flush()
    deadline = time.time() + 10
    while time.time() < deadline and not other.responses.get(probe, {}).get("ended"):
        other.pump(0.05)
    codes = [client.grpc_status(s) for s in streams]
    served = codes.count("3")  # decoded, validated, refused for the last execution
    refused = [s for s in streams if client.grpc_status(s) == "8"]
    untold = [s for s in refused if not client.field(s, "grpc-retry-pushback-ms")]
    client.close()
    other.close()
    grown = peak - before
    # On a loaded machine some requests do not arrive within the server's request timeout (3 s),
    # 100 of them sharing one connection's window: DEADLINE_EXCEEDED, which is not what this checks.
    late = codes.count("4")
    others = sorted({c for c in codes if c not in ("3", "4", "8")}, key=str)
    check(served > 0 and refused and not others,
          f"{calls} LogExecutions of 10,000 executions on one connection: {served} decoded (INVALID_ARGUMENT), "
          f"{len(refused)} RESOURCE_EXHAUSTED, {late} past the request timeout, other answers {others}")
    check(not untold, f"{len(refused)} refused for want of budget, {len(untold)} of them without grpc-retry-pushback-ms")
    check(other.grpc_status(probe) == "0", f"another connection served meanwhile: grpc-status {other.grpc_status(probe)}")
    check(grown <= 24 * MIB, f"server RSS grew {grown / MIB:.1f} MiB at its peak (bound 16 MiB + 8 MiB slack)")


def case_silent_streams_closed():
    """HEADERS without END_STREAM, then nothing; a gRPC prefix promising more than is sent; an
    HTTP/1.1 body that never comes: each is answered within the request timeout."""
    client = H2Client()
    start = time.time()
    rest = client.headers("/ml/predict", "application/json")
    unary = client.headers(GRPC_PREDICT, "application/grpc")
    short = client.headers(GRPC_PREDICT, "application/grpc")
    client.conn.send_data(short, grpc_frame(b"\x0a\x01a", declared=1000))
    client.flush()
    raw = socket.create_connection((HOST, PORT), timeout=TIMEOUT_S + 5)
    raw.sendall(b"POST /ml/predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    while time.time() < start + TIMEOUT_S + 3 and not all(
            client.responses.get(s, {}).get("ended") or s in client.reset for s in (rest, unary, short)):
        client.pump(0.1)
    elapsed = time.time() - start
    try:
        raw.settimeout(max(0.5, start + TIMEOUT_S + 3 - time.time()))
        h1 = raw.recv(4096)
    except OSError:
        h1 = b"(no answer)"
    raw.close()
    client.close()
    check(client.status(rest) == "408", f"silent REST stream answered {client.status(rest)} after {elapsed:.1f} s (timeout {TIMEOUT_S:.0f} s)")
    check(client.grpc_status(unary) == "4", f"silent unary call: grpc-status {client.grpc_status(unary)} (4 DEADLINE_EXCEEDED)")
    check(client.grpc_status(short) == "4", f"length prefix promising more: grpc-status {client.grpc_status(short)}")
    check(elapsed <= TIMEOUT_S + 2, f"all closed within {elapsed:.1f} s (bound {TIMEOUT_S + 2:.0f} s)")
    check(h1.startswith(b"HTTP/1.1 408"), f"HTTP/1.1 body that never came: {h1[:12]!r}")


def case_grpc_timeout_honoured():
    """grpc-timeout bounds a call the client never finishes: DEADLINE_EXCEEDED at its deadline."""
    client = H2Client()
    start = time.time()
    stream = client.headers(GRPC_PREDICT, "application/grpc", extra=[("grpc-timeout", "500m")])
    while time.time() < start + TIMEOUT_S and not client.responses.get(stream, {}).get("ended"):
        client.pump(0.05)
    elapsed = time.time() - start
    client.close()
    check(client.grpc_status(stream) == "4" and elapsed < 2.0,
          f"grpc-timeout 500m: grpc-status {client.grpc_status(stream)} after {elapsed:.2f} s")


def case_protocol_edges():
    """Two Host headers: 400; oversized header lists: 431 / RESOURCE_EXHAUSTED; a CONTINUATION
    flood ends with GOAWAY."""
    raw = socket.create_connection((HOST, PORT), timeout=5)
    raw.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    answer = raw.recv(4096)
    raw.close()
    check(answer.startswith(b"HTTP/1.1 400"), f"two Host headers: {answer[:12]!r}")

    client = H2Client()
    big = [("x-big", "h" * 20000)]
    rest = client.headers("/health", "application/json", end_stream=True, extra=big, method="GET")
    grpc = client.headers(GRPC_PREDICT, "application/grpc", extra=big)
    client.pump(1.0)
    ok = client.headers("/health", "application/json", end_stream=True, method="GET")
    client.pump(1.0)
    client.close()
    check(client.status(rest) == "431", f"oversized header list over REST: {client.status(rest)}")
    check(client.grpc_status(grpc) == "8", f"oversized header list over gRPC: grpc-status {client.grpc_status(grpc)} (8)")
    check(client.status(ok) == "200", "the connection still serves after them")

    # CONTINUATION flood: a header block that never ends.
    sock = socket.create_connection((HOST, PORT), timeout=5)
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    block = b"\x82\x86\x84\x41\x05abuse"  # :method GET, :scheme http, :path /, :authority abuse
    frames = [struct.pack(">I", len(block))[1:] + b"\x01\x01" + struct.pack(">I", 1) + block]
    filler = b"\x40\x01x\x01y"  # literal header x: y, incremental indexing
    for _ in range(20000):
        frames.append(struct.pack(">I", len(filler))[1:] + b"\x09\x00" + struct.pack(">I", 1) + filler)
    goaway = None
    try:
        sock.sendall(b"".join(frames))
    except OSError:
        pass
    data = b""
    end = time.time() + 5
    while time.time() < end:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    sock.close()
    offset = 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        if data[offset + 3] == 7 and offset + 17 <= len(data):
            goaway = int.from_bytes(data[offset + 13:offset + 17], "big")
        offset += 9 + length
    check(goaway is not None, f"CONTINUATION flood: closed with GOAWAY (error code {goaway})")


def case_rapid_reset_across_reconnects():
    """Streams opened and reset at once, over and over, reconnecting after every burst: the
    per-address limit (5,000 resets per 10 s over all the address's connections) blocks the
    address (its new connections are closed at accept), and the attack costs the server at most
    0.25 core."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    block = b"\x83\x86\x84\x41\x05abuse\x5f\x10application/grpc"  # POST, http, /, authority, content-type
    def pair(stream):
        headers = struct.pack(">I", len(block))[1:] + b"\x01\x04" + struct.pack(">I", stream) + block
        reset = b"\x00\x00\x04\x03\x00" + struct.pack(">I", stream) + struct.pack(">I", 8)
        return headers + reset
    burst = preface + b"".join(pair(2 * i + 1) for i in range(100))
    seconds = 6.0
    cpu_before = cpu_seconds()
    start = time.time()
    connections = cut_off = 0
    while time.time() < start + seconds:
        try:
            sock = socket.create_connection((HOST, PORT), timeout=2)
            connections += 1
            sock.sendall(burst)
            sock.settimeout(0.2)
            try:
                answer = sock.recv(65536)
            except socket.timeout:
                answer = b"(served)"
            except OSError:
                answer = b""  # reset: closed at accept with the burst unread
            if not answer:
                cut_off += 1  # closed at accept: the address is blocked
                # (a client that just reconnects in a loop is a connect flood, the kernel's and
                # the firewall's business: this one waits a little, as it would on errors)
                time.sleep(0.01)
            sock.close()
        except OSError:
            cut_off += 1
            time.sleep(0.01)
    cpu = (cpu_seconds() - cpu_before) / (time.time() - start)
    check(cut_off > 0, f"{connections} connections of 100 HEADERS+RST_STREAM each: {cut_off} cut off at once once the address passed its limit")
    check(cpu <= 0.25, f"server CPU {cpu:.2f} core over the {seconds:.0f} s (bound 0.25)")
    # The block lasts for the rest of the address's window, then it is served again.
    served = False
    deadline = time.time() + 15
    while time.time() < deadline and not served:
        time.sleep(1.0)
        try:
            client = H2Client()
            stream = client.headers("/health", "application/json", end_stream=True, method="GET")
            client.pump(1.0)
            client.close()
            served = client.status(stream) == "200"
        except OSError:
            pass
    check(served, "after the reset window the address is served again")


def case_descriptors_exhausted():
    """A server out of descriptors (EMFILE) pauses accepting instead of spinning: idle CPU under
    5 %, and it serves again once descriptors free up."""
    port = PORT + 1
    limit = 96
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LEARNING_DATABASE_URL": DATABASE_URL,
           "LEARNING_LOG_LEVEL": "INFO", "LEARNING_LOOP_THREADS": "1"}
    def limited():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    log = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen([BINARY, "--port", "0"], env=env, preexec_fn=limited, stdout=log, stderr=log)
    try:
        port = None
        deadline = time.time() + 60
        while time.time() < deadline and port is None and server.poll() is None:
            time.sleep(0.1)
            log.seek(0)
            match = re.search(r"listening on [^ ]+:(\d+)", log.read())
            if match:
                port = int(match.group(1))
        check(port is not None, "a server limited to 96 descriptors started")
        held = []
        for _ in range(limit + 20):
            try:
                held.append(socket.create_connection((HOST, port), timeout=1))
            except OSError:
                break
        time.sleep(1.0)
        before = cpu_seconds(server.pid)
        time.sleep(3.0)
        cpu = (cpu_seconds(server.pid) - before) / 3.0
        check(cpu < 0.05, f"{len(held)} connections held past the descriptor limit: server CPU {cpu * 100:.1f} % (bound 5 %)")
        for sock in held:
            sock.close()
        released = time.time()
        status = None
        while time.time() < released + 20 and status is None:
            time.sleep(0.5)
            try:
                client = H2Client(port=port)
                stream = client.headers("/health", "application/json", end_stream=True, method="GET")
                client.pump(1.0)
                client.close()
                status = client.status(stream)
            except OSError:
                pass
        check(status in ("200", "503"), f"served again {time.time() - released:.1f} s after the descriptors were freed ({status})")
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


ALL = {
    "auth": case_unauthenticated_writes_refused_at_headers,
    "one": case_one_connection_bounded,
    "decoded": case_decoded_requests_bounded,
    "hundred": case_hundred_connections_bounded,
    "silent": case_silent_streams_closed,
    "grpc-timeout": case_grpc_timeout_honoured,
    "edges": case_protocol_edges,
    "reset": case_rapid_reset_across_reconnects,
    "emfile": case_descriptors_exhausted,
}

for name in CASES or list(ALL):
    started = time.time()
    ALL[name]()
    print(f"--   {name} took {time.time() - started:.1f} s", flush=True)
print("ALL CHECKS PASSED", flush=True)
