"""Stream a 4 GiB send stream from `serve --stdio` to our client; peak RSS of each (issue 2).

Target: peak RSS of each process under 64 MiB. Also prints the throughput.
Usage: python bench/bench_stream.py [GiB]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from common import header

CLIENT = r"""
import os, resource, sys, time
from bytestreamrpc.client import Client
from bytestreamrpc.messages import DatasetPath, FilesystemVersion, InitialTransferRequest
from bytestreamrpc.transport import SubprocessTransport
t = SubprocessTransport([sys.executable, "-m", "zrepl_conformance", "serve", "--stdio",
                         "--profile", sys.argv[1]])
c = Client.connect(t, timeout=60)
fs = DatasetPath(("pool", "big"))
v = [x for x in c.filesystem_versions_request(__import__("bytestreamrpc.messages",
     fromlist=["x"]).FilesystemVersionsRequest(fs)) if x.name == "huge"][0]
start = time.perf_counter()
r = c.initial_transfer_request(InitialTransferRequest(fs, v))
n = 0
while block := r.read(1 << 20):
    n += len(block)
elapsed = time.perf_counter() - start
c.close_request()
t.wait(30)
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
kid = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{n} {elapsed:.3f} {me:.1f} {kid:.1f}")
"""


def main() -> None:
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    size = int(gib * 2**30)
    from fakes.zfs import FakeZfs

    with tempfile.TemporaryDirectory() as tmp:
        state = os.path.join(tmp, "state.sqlite")
        FakeZfs.init_state(state)
        z = FakeZfs.open(state)
        z.create("pool/big")
        z.write("pool/big", size)
        z.snapshot("pool/big@huge")
        z.close()
        profile = os.path.join(tmp, "profile.json")
        with open(profile, "w") as f:
            f.write('{"identity": "bench", "pull_acl": {"pool*": "x"}}')
        header(f"{gib:g} GiB send stream, serve --stdio -> client")
        env = dict(os.environ, FAKE_ZFS_STATE=state)
        out = subprocess.run(
            [sys.executable, "-c", CLIENT, profile],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        n, elapsed = int(out[0]), float(out[1])
        client_rss, server_rss = float(out[2]), float(out[3])
        print(f"streamed {n / 2**30:.2f} GiB in {elapsed:.1f} s ({n / elapsed / 1e6:.0f} MB/s)")
        print(f"peak RSS: client {client_rss:.1f} MiB, server {server_rss:.1f} MiB (target < 64)")
        sys.exit(0 if max(client_rss, server_rss) < 64 and n >= size else 1)


if __name__ == "__main__":
    main()
