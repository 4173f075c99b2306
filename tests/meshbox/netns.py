"""The network of one box run, inside the namespaces launch.py makes (`unshare --net
--mount`): loopback up, every pod CIDR of the mesh local (so each istiod listens on its pod's
IP, where the API server's webhook calls and the sidecars reach it), and the host names of
the spec's `apiServer` URLs resolving to the addresses their API servers listen on (a copy of
/etc/hosts bound over it, seen by this mount namespace only)."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

# The API servers the spec names by URL listen on 127.1.0.1, 127.1.0.2, ... (all of 127/8 is
# loopback); the others on 127.0.0.1.
API_NETWORK = ipaddress.ip_network("127.1.0.0/24")


def local_routes(cidrs: list[str]) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for cidr in cidrs:
        family = "-6" if ":" in cidr else "-4"
        subprocess.run(["ip", family, "route", "add", "local", cidr, "dev", "lo"], check=True)


def api_address(index: int) -> str:
    return str(API_NETWORK[index + 1])


def resolve(names: dict[str, str], workdir: Path) -> None:
    """`names` (host -> address) in this mount namespace's /etc/hosts."""
    if not names:
        return
    hosts = workdir / "hosts"
    original = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
    hosts.write_text(original + "".join(f"{a} {h}\n" for h, a in sorted(names.items())))
    subprocess.run(["mount", "--bind", str(hosts), "/etc/hosts"], check=True)
