"""A deliberately changed server for the replay tests: any server, with one defect injected.

``python tests/support/recordings_mutant.py MODE N -- SERVER-CMD...`` runs SERVER-CMD and relays its
stdio, passing the client's bytes through unchanged and rewriting the server's output stream
by stream: the N-th (0-based) server-to-client chunked stream gets one defect, everything
else is passed through as it was. Modes:

* ``field``   – a JSON message gets one value changed (its first integer field + 1, request
  ids excluded): every comparison level must catch it;
* ``message`` – a ResponseHeader's ``Message`` gets text appended: caught at ``bytes`` and
  ``messages``, not at ``semantic`` (error texts are free);
* ``chunks``  – the stream's payload is split over two chunks: caught only at ``bytes``;
* ``spacing`` – the JSON is re-encoded with spaces: caught only at ``bytes``;
* ``extra``   – the stream is sent twice: an extra message, caught at every level;
* ``error-N`` – a ResponseHeader gets ``ErrorId`` N (the original's answer where §deviations
  says so, e.g. 3 to a header without its zero chunk; a defect anywhere else);
* ``crash``   – the server "panics": nothing more from this stream on, its output closed
  (the original's handler crash of §deviations.handler-crashes, or a defect).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading

from bytestreamrpc import framing


def _bump_first_number(value: object) -> bool:
    """Add 1 to the first integer field (request ids excluded); False if there is none."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, int) and not isinstance(v, bool):
                value[k] = v + 1
                return True
            if k not in ("RequestId", "Id") and _bump_first_number(v):
                return True
    elif isinstance(value, list):
        return any(_bump_first_number(v) for v in value)
    return False


def mutate(mode: str, payload: bytes) -> bytes | list[bytes]:
    """The new stream payload (a list: several chunks, or the stream twice for ``extra``)."""
    if mode == "chunks":
        cut = max(1, len(payload) // 2)
        return [payload[:cut], payload[cut:]]
    if mode == "extra":
        return payload
    value = json.loads(payload)
    if mode == "spacing":
        return json.dumps(value, separators=(", ", ": ")).encode() + b"\n"
    if mode == "message":
        value["Message"] = value.get("Message", "") + " (mutated)"
    elif mode.startswith("error-"):
        value["ErrorId"] = int(mode.removeprefix("error-"))
    elif mode == "field":
        assert _bump_first_number(value), "no number to change"
    else:
        raise SystemExit(f"unknown mode {mode}")
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def main() -> int:
    mode, at, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, "usage: MODE N -- CMD..."
    target = int(at)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    child_in, child_out = proc.stdin, proc.stdout

    def upstream() -> None:
        try:
            while data := os.read(0, 1 << 16):
                child_in.write(data)
                child_in.flush()
        except OSError:
            pass
        with contextlib.suppress(OSError):
            child_in.close()

    threading.Thread(target=upstream, daemon=True).start()
    dec = framing.ChunkDecoder()
    index = 0
    parts: list[bytes] = []
    try:
        while True:
            data = os.read(child_out.fileno(), 1 << 16)
            dec.receive_data(data)
            while True:
                ev = dec.next_event()
                if isinstance(ev, framing.Payload):
                    parts.append(ev.data)
                    continue
                if isinstance(ev, framing.EndOfStream):
                    payload = b"".join(parts)
                    parts = []
                    if index >= target and mode == "crash":
                        if index == target:
                            os.close(1)  # and read on, so the server never blocks
                        index += 1
                        continue
                    if index == target:
                        new = mutate(mode, payload)
                        if mode == "extra":
                            out = framing.encode_stream(payload) * 2
                        elif isinstance(new, list):
                            out = b"".join(framing.encode_chunks(p) for p in new)
                            out += framing.TERMINATOR
                        else:
                            out = framing.encode_stream(new)
                    else:
                        out = framing.encode_stream(payload)
                    os.write(1, out)
                    index += 1
                    continue
                break
            if not data:
                break
    except Exception as exc:  # a broken server stream: pass the rest through raw
        print(f"mutant: {exc}", file=sys.stderr)
    with contextlib.suppress(OSError):
        os.close(1)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
