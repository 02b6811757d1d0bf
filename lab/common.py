"""What every lab backend shares, in the spirit of kind's providers/common: the lab's key,
bridge and iptables rule, the check that its subnet is free, the removal of its links, rules
and folders, and small process and network helpers. Backends import these; none imports
another backend's names.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shlex
import shutil
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .config import LabConfig
from .sh import LabError, ok, run


# Processes and ports ---------------------------------------------------------------------
def parallel(fn, items: list, workers: int = 16) -> list:
    """Run fn over items in threads; raise the first error after all have finished."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(fn, item) for item in items]
    errors = [f.exception() for f in futures if f.exception()]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")


def cmdline(pid: int) -> list[str]:
    """A process's argv ([] once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def wait_gone(pids, timeout: float, step: float = 0.05) -> None:
    """Wait until none of these processes runs, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids if p and Path(f"/proc/{p}").exists()) and time.monotonic() < deadline:
        time.sleep(step)


def stop(pids: list[int], grace: float = 10) -> None:
    """SIGTERM, then SIGKILL whatever still runs after `grace` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    wait_gone(pids, grace, step=0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_port(address: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to address:port succeeds within the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=1):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)


# The lab's network -----------------------------------------------------------------------
def ensure_key_and_bridge(lab: LabConfig) -> None:
    """What every backend needs first: the lab's SSH key and its bridge, up and forwarding."""
    lab.state_dir.mkdir(parents=True, exist_ok=True)
    if not lab.key_file.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", lab.tag, "-f", str(lab.key_file)])
    if not Path(f"/sys/class/net/{lab.bridge}").exists():
        run(["ip", "link", "add", lab.bridge, "type", "bridge"])
        run(["ip", "link", "set", lab.bridge, "alias", lab.tag])
        run(["ip", "addr", "add", f"{lab.gateway}/24", "dev", lab.bridge])
    run(["ip", "link", "set", lab.bridge, "up"])
    # Once any engine has run, bridged traffic passes the machine's FORWARD chain
    # (br_netfilter) whose policy may be DROP: let the lab's hosts reach each other.
    rule = ["FORWARD", "-i", lab.bridge, "-o", lab.bridge, "-m", "comment", "--comment", lab.tag, "-j", "ACCEPT"]
    if not ok(["iptables", "-w", "-C", *rule]):
        run(["iptables", "-w", "-I", *rule])


def check_range(lab: LabConfig) -> None:
    """Refuse a subnet or bridge name that something other than this lab uses."""
    links = {link["ifname"]: link for link in json.loads(run(["ip", "-j", "link", "show"]).stdout)}
    mine = links.get(lab.bridge)
    if mine is not None and mine.get("ifalias") != lab.tag:
        raise LabError(
            f"bridge {lab.bridge} exists and is not this lab's ({lab.tag}); choose another with --bridge"
        )
    for addr in json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout):
        if addr["ifname"] == lab.bridge:
            continue
        for info in addr.get("addr_info", []):
            net = ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
            if net.overlaps(lab.network):
                raise LabError(
                    f"subnet {lab.subnet} overlaps {net} on {addr['ifname']}; choose another with --subnet"
                )
    for route in json.loads(run(["ip", "-j", "-4", "route", "show"]).stdout):
        dst = route.get("dst", "")
        if dst in ("", "default") or route.get("dev") == lab.bridge:
            continue
        if ipaddress.IPv4Network(dst, strict=False).overlaps(lab.network):
            raise LabError(f"subnet {lab.subnet} overlaps route {dst}; choose another with --subnet")


# Removal -----------------------------------------------------------------------------------
def remove_links_and_rules(lab: LabConfig) -> list[str]:
    """Delete the lab's bridge, its ports (`BRIDGE-OCTET`: veths or taps) and its iptables rules."""
    removed = []
    for link in json.loads(run(["ip", "-j", "link", "show"]).stdout):
        ifname = link["ifname"].split("@")[0]
        if ifname.startswith(f"{lab.bridge}-") or (ifname == lab.bridge and link.get("ifalias") == lab.tag):
            run(["ip", "link", "del", ifname], check=False)
            removed.append(f"link {ifname}")
    rules = run(["iptables", "-w", "-S"], check=False).stdout.splitlines()
    for rule in rules:
        if f'"{lab.tag}"' in rule or f" {lab.tag} " in rule + " ":
            spec = shlex.split(rule)
            if spec and spec[0] == "-A":
                run(["iptables", "-w", "-D", *spec[1:]], check=False)
                removed.append("an iptables rule")
    return removed


def remove_network_and_folders(lab: LabConfig, hosts_what: str) -> list[str]:
    """The last step of every backend's cleanup, once its hosts are gone: links, rules, the
    lab's run folder and its host folders (`hosts_what` says what those held)."""
    removed = remove_links_and_rules(lab)
    if lab.run_dir.exists():
        shutil.rmtree(lab.run_dir, ignore_errors=True)
    hosts_dir = lab.state_dir / "hosts"
    if hosts_dir.exists():
        shutil.rmtree(hosts_dir, ignore_errors=True)
        removed.append(hosts_what)
    return removed
