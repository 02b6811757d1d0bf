"""Helpers for the workload module tests (tests/integration/test_workload_*.py): run a module ad hoc
and read its JSON result."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass


@dataclass
class Result:
    status: str  # changed, ok, failed
    data: dict

    @property
    def changed(self) -> bool:
        return bool(self.data.get("changed"))

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def msg(self) -> str:
        return str(self.data.get("msg", ""))

    def __getitem__(self, key: str):
        return self.data[key]


# On the shared lab the modules talk to its newest engine (manager3: 28.5), which fills the
# newest defaults into the specs they compare; the raft state they change is the same on every
# manager. Labs without a manager3 use manager1.
MODULE_HOST = "manager3"


def run(lab, module: str, args: dict, *extra: str, host: str = "") -> Result:
    """`ansible HOST -m MODULE -a JSON -o`: one line per host, `host | STATUS => {json}`."""
    host = host or (MODULE_HOST if MODULE_HOST in lab.hosts else "manager1")
    proc = lab.module(host, module, json.dumps(args), "-o", *extra, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(f"{host} | ")]
    assert lines, f"no result from {module}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    head, _, body = lines[-1].partition(" => ")
    status = "failed" if "FAILED" in head or "UNREACHABLE" in head else ("changed" if "CHANGED" in head else "ok")
    return Result(status, json.loads(body))


def ok(lab, module: str, args: dict, *extra: str) -> Result:
    result = run(lab, module, args, *extra)
    assert not result.failed, f"{module} {args} failed: {result.msg}\n{json.dumps(result.data, indent=1)[:4000]}"
    return result


def http_get(address: str, port: int, timeout: float = 3) -> str:
    with urllib.request.urlopen(f"http://{address}:{port}/", timeout=timeout) as resp:
        return resp.read().decode()


def service_image(lab, name: str) -> str:
    return lab.docker("manager1", "service", "inspect", name, "--format",
                      "{{.Spec.TaskTemplate.ContainerSpec.Image}}").stdout.strip()


def cleanup(lab, *, services=(), networks=(), secrets=(), configs=()) -> None:
    if services:
        lab.docker("manager1", "service", "rm", *services, check=False)
    for kind, names in (("secret", secrets), ("config", configs), ("network", networks)):
        if names:
            lab.docker("manager1", kind, "rm", *names, check=False)
