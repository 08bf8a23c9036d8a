"""Encrypted file sharing end to end: one file from Alice's disk through the relay's
blob store to Bob's disk, against raw AES-GCM and raw WebSocket throughput measured in
the same run.

Run from the repository root::

    .venv/bin/python -m bench.bench_files [--mb 256]

* **end to end**: Alice's ``client.files.send`` of a ``--mb`` MiB file of random bytes
  (encrypted to her vault copy, uploaded chunk by chunk) until Bob's client has
  downloaded every chunk, verified it and checked the whole file's SHA-256 (Bob
  downloads by himself: ``auto_download_bytes`` is raised). The relay is a child process
  (``twistd -n securechat-relay``, its blobs on the default ``TMPDIR``); Alice and Bob
  are real clients in this process, as in bench_client.
* **raw AES-GCM**: AES-256-GCM of the same number of bytes in 512 KiB chunks, in memory,
  one thread (the least the crypto alone costs; the client does it three times: Alice
  encrypts, Bob verifies each chunk, Bob hashes the decrypted file).
* **raw WebSocket**: the same bytes as binary WebSocket messages of 512 KiB from this
  process to a sink in another process (autobahn on both ends, no WAMP, no disk).
* **memory**: peak RSS of the relay (``VmHWM``) and of this process (both clients:
  ``ru_maxrss``), which holds a few chunks at a time, never the file.

Targets (issue 12): ≥ 100 MB/s end to end, ≤ 150 MB RSS per process.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore

from bench.bench_client import Waiter, cpu_seconds, make_pair, start_relay
from bench.common import RunOptions, add_run_arguments, bounded, run_benchmark, run_options
from securechat.client import events as ev

CHUNK = 512 * 1024
TARGET_MB_S = 100.0
TARGET_RSS_MB = 150.0
MB = 1e6

SINK = """
import sys
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet import reactor

class Sink(WebSocketServerProtocol):
    def onMessage(self, payload, binary):
        self.received = getattr(self, "received", 0) + len(payload)
        if self.received >= int(sys.argv[1]):
            self.sendMessage(b"done", isBinary=True)

factory = WebSocketServerFactory()
factory.protocol = Sink
factory.setProtocolOptions(maxMessagePayloadSize=0, maxFramePayloadSize=0)
port = reactor.listenTCP(0, factory, interface="127.0.0.1")
print(port.getHost().port, flush=True)
reactor.run()
"""


def raw_aes_gcm(total: int) -> float:
    """MB/s of AES-256-GCM over `total` bytes in CHUNK pieces."""
    aes = AESGCM(AESGCM.generate_key(bit_length=256))
    piece = os.urandom(CHUNK)
    started = time.perf_counter()
    for i in range(-(-total // CHUNK)):
        aes.encrypt(i.to_bytes(12, "big"), piece, b"aad")
    return total / MB / (time.perf_counter() - started)


async def raw_websocket(reactor: IReactorCore, total: int) -> float:
    """MB/s of binary WebSocket messages to a sink in another process."""
    from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
    from twisted.internet import endpoints

    sink = subprocess.Popen([sys.executable, "-c", SINK, str(total)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        done: Deferred[float] = Deferred()
        piece = os.urandom(CHUNK)

        class Source(WebSocketClientProtocol):
            def onOpen(self) -> None:
                self.started = time.perf_counter()
                for _ in range(-(-total // CHUNK)):
                    self.sendMessage(piece, isBinary=True)

            def onMessage(self, payload: bytes, binary: bool) -> None:
                done.callback(total / MB / (time.perf_counter() - self.started))

        factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}")
        factory.protocol = Source
        await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        return await bounded(done, 300, "the raw WebSocket transfer")
    finally:
        sink.kill()
        sink.wait()


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MB
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=256, help="MiB in the file")
    parser.add_argument("--window", type=int, default=0,
                        help="chunks in flight each way (default: the client's own)")
    add_run_arguments(parser, stall_s=60.0, timeout_s=900.0,
                      stall_help="unused (the transfer has its own limit)",
                      profile_help="unused", keep_help="keep the temporary directory")
    ns = parser.parse_args()
    options = RunOptions(**run_options(ns))
    total = ns.mb * 1024 * 1024
    figures: dict[str, float] = {}

    async def measure(reactor: IReactorCore, workdir: Path, child_pids: list[int]) -> None:
        relay = await start_relay(reactor, workdir)
        child_pids.append(relay.pid)
        pair = await make_pair(reactor, relay.url, workdir, 60.0)
        try:
            path = workdir / "file.bin"
            with open(path, "wb") as f:
                for _ in range(-(-total // CHUNK)):
                    f.write(os.urandom(CHUNK))
            pair.bob.files.auto_download_bytes = total
            if ns.window:
                pair.alice.files.window = pair.bob.files.window = ns.window
            verified = Waiter(pair.bob).next(ev.FileTransferred)
            cpu_before = cpu_seconds(), cpu_seconds(relay.pid)
            started = time.perf_counter()
            message = await pair.alice.files.send(pair.bob.me.user_id, str(path))
            figures["prepared"] = time.perf_counter() - started
            await bounded(pair.alice.files.wait(message.id), options.timeout_s, "the upload")
            figures["uploaded"] = time.perf_counter() - started
            await bounded(verified, options.timeout_s, "Bob's verified download")
            figures["e2e"] = time.perf_counter() - started
            figures["clients_cpu"] = cpu_seconds() - cpu_before[0]
            figures["relay_cpu"] = cpu_seconds(relay.pid) - cpu_before[1]
            figures["relay_rss"] = peak_rss_mb(relay.pid)
            figures["clients_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        finally:
            await pair.stop()
            await relay.stop()
        # The references after the transfer: their buffers are not the clients' peak.
        figures["aes"] = raw_aes_gcm(total)
        figures["ws"] = await raw_websocket(reactor, total)

    def report() -> tuple[list[str], bool]:
        mb = total / MB
        e2e = mb / figures["e2e"]
        busy = (figures["relay_cpu"] + figures["clients_cpu"]) / figures["e2e"]
        lines = [
            f"raw AES-256-GCM (512 KiB chunks, one thread): {figures['aes']:8.1f} MB/s",
            f"raw WebSocket (512 KiB binary messages):       {figures['ws']:8.1f} MB/s",
            f"encrypt to Alice's vault copy: {figures['prepared']:.2f}s; "
            f"uploaded after {figures['uploaded']:.2f}s; Bob verified after "
            f"{figures['e2e']:.2f}s",
            f"end to end: {e2e:.1f} MB/s = {e2e / figures['aes']:.2f} x raw AES-GCM, "
            f"{e2e / figures['ws']:.2f} x raw WebSocket",
            f"CPU during the transfer: relay {figures['relay_cpu']:.2f}s, this process "
            f"{figures['clients_cpu']:.2f}s: {busy:.2f} of {os.cpu_count()} cores busy on "
            "average",
            f"peak RSS: relay {figures['relay_rss']:.0f} MB, this process (both clients) "
            f"{figures['clients_rss']:.0f} MB",
        ]
        ok_speed = e2e >= TARGET_MB_S
        ok_rss = max(figures["relay_rss"], figures["clients_rss"]) <= TARGET_RSS_MB
        lines.append(f"target ≥ {TARGET_MB_S:.0f} MB/s end to end: "
                     f"{'PASS' if ok_speed else 'FAIL'}")
        lines.append(f"target ≤ {TARGET_RSS_MB:.0f} MB RSS per process: "
                     f"{'PASS' if ok_rss else 'FAIL'}")
        return lines, ok_speed and ok_rss

    run_benchmark(options, name="files", workload=f"one {ns.mb} MiB file, Alice to Bob",
                  measure=measure, report=report)


if __name__ == "__main__":
    main()


