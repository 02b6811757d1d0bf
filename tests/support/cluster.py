"""Helpers for the cluster modules' integration tests (tests/integration/test_cluster_*.py): run
a module ad hoc and read each host's result as JSON, scan output for secrets, read engine state
for comparisons.
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import contextmanager

SECRET = re.compile(r"SWMTKN-|SWMKEY-")


@contextmanager
def json_results():
    old = os.environ.get("ANSIBLE_CALLBACK_RESULT_FORMAT")
    os.environ["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("ANSIBLE_CALLBACK_RESULT_FORMAT", None)
        else:
            os.environ["ANSIBLE_CALLBACK_RESULT_FORMAT"] = old


def parse_adhoc(stdout: str) -> dict[str, dict]:
    """`host | STATUS => {json}` blocks of an ad-hoc run -> {host: result (with _status)}."""
    out: dict[str, dict] = {}
    decoder = json.JSONDecoder()
    for m in re.finditer(r"^(\S+) \| ([A-Z!]+) => ", stdout, re.MULTILINE):
        result, _ = decoder.raw_decode(stdout, m.end())
        result["_status"] = m.group(2)
        out[m.group(1)] = result
    return out


def run(lab, host: str, module: str, args: str = "", *extra: str, ok: bool = True) -> dict:
    """One module on one host; its result. ok=False expects a failure."""
    with json_results():
        proc = lab.module(host, module, args, *extra, check=False)
    results = parse_adhoc(proc.stdout)
    assert host in results, f"no result for {host}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    result = results[host]
    failed = result["_status"].startswith("FAILED") or result["_status"] == "UNREACHABLE!"
    if ok:
        assert not failed and proc.returncode == 0, f"{module} {args!r} on {host} failed: {result}"
    else:
        assert failed and proc.returncode != 0, f"{module} {args!r} on {host} should have failed: {result}"
    result["_output"] = proc.stdout + proc.stderr
    return result


def no_secrets(text: str) -> None:
    found = SECRET.findall(text)
    assert not found, f"{len(found)} secrets in the output, e.g. near: " + \
        text[max(0, text.find(found[0]) - 200):text.find(found[0]) + 40]


def engine_state(lab, managers: list[str]) -> dict:
    """What check mode must not change: swarm spec/version/tokens/CA, every node's spec, local states."""
    state: dict = {}
    via = managers[0]
    info = lab.docker_json(via, "info", "--format", "{{json .Swarm}}")
    state["cluster"] = info.get("Cluster")
    tokens = {r: lab.docker(via, "swarm", "join-token", "-q", r).stdout.strip() for r in ("worker", "manager")}
    state["tokens"] = tokens
    ids = lab.docker(via, "node", "ls", "-q").stdout.split()
    nodes = lab.docker_json(via, "node", "inspect", *ids)
    state["nodes"] = {n["ID"]: {"spec": n["Spec"], "issuer": n["Description"].get("TLSInfo"),
                                "manager": bool(n.get("ManagerStatus"))} for n in nodes}
    state["local"] = {h: lab.docker_json(h, "info", "--format", "{{json .Swarm.LocalNodeState}}")
                      for h in lab.hosts if h.startswith(("manager", "worker"))}
    return state


def wait_nodes(lab, want, via: str = "manager1", timeout: float = 60, what: str = "nodes"):
    """Wait until want(lab.nodes(via)) is true."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = lab.nodes(via)
            if want(last):
                return last
        except AssertionError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last: {last}")
