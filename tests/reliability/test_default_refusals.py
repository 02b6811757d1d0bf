"""Refusals that hold with the modules' and roles' defaults, not only with the lab's settings
(issue 15): a drain that would stop services is refused before anything changes, and a failed
join says why without showing the token.

On the `single` lab (manager1, worker1, outsider1; a swarm formed by plain CLI). Each test puts
the lab back as it found it.
"""

from __future__ import annotations

import json
import time

from support.lab import Lab
from support.runs import run_task
from support.secret_scan import scan

SERVICE = "refusal-web"


def _service(lab: Lab, *args: str) -> None:
    lab.docker("manager1", "service", "create", "--detach", "--name", SERVICE, "--replicas", "2",
               "--stop-grace-period", "1s", *args, "swarmops/probe:1", timeout=120)


def _availability(lab: Lab) -> dict[str, str]:
    return {h: n["availability"].lower() for h, n in lab.nodes("manager1").items()}


def _drain(lab: Lab, tmp_path, node: str, **extra) -> tuple[object, str, float]:
    start = time.monotonic()
    run = run_task(lab, tmp_path, "manager1", "swarm_node", {"node": node, "availability": "drain", **extra},
                   name=f"drain-{node}")
    return run, run.stdout + run.stderr, time.monotonic() - start


def test_draining_the_last_active_node_is_refused_by_default(single_lab: Lab, tmp_path):
    lab = single_lab
    _service(lab)
    lab.docker("manager1", "node", "update", "--availability", "drain", "worker1")
    try:
        before = _availability(lab)
        run, output, seconds = _drain(lab, tmp_path, "manager1")
        assert run.returncode != 0, output[-3000:]
        assert "manager1 is the last ready and active node" in output and SERVICE in output, output[-3000:]
        assert "force=true overrides" in output and "nothing was changed" in output
        # Decided before the change, not found out after the 300 s default wait.
        assert seconds < 60 and _availability(lab) == before == {"manager1": "active", "worker1": "drain"}
        # force is the way past it; the node drains (no wait: its tasks have nowhere to go).
        forced, output, _ = _drain(lab, tmp_path, "manager1", force=True, wait=False)
        assert forced.returncode == 0, output[-3000:]
        assert _availability(lab)["manager1"] == "drain"
    finally:
        lab.docker("manager1", "node", "update", "--availability", "active", "manager1", check=False)
        lab.docker("manager1", "node", "update", "--availability", "active", "worker1", check=False)
        lab.docker("manager1", "service", "rm", SERVICE, check=False)


def test_draining_the_only_node_a_service_may_run_on_is_refused_by_default(single_lab: Lab, tmp_path):
    lab = single_lab
    _service(lab, "--constraint", "node.hostname==worker1")
    try:
        run, output, seconds = _drain(lab, tmp_path, "worker1")
        assert run.returncode != 0, output[-3000:]
        assert "draining worker1 would leave replicated services with no node their placement allows" in output
        assert SERVICE in output and seconds < 60
        assert _availability(lab)["worker1"] == "active"
    finally:
        lab.docker("manager1", "service", "rm", SERVICE, check=False)


def test_a_failed_join_says_why_and_shows_no_token(single_lab: Lab, tmp_path):
    """The role's join task is not no_log: the module hides the token itself (join_token is
    no_log in its argument spec), so the operator reads why a join failed."""
    lab = single_lab
    token = lab.docker("manager1", "swarm", "join-token", "-q", "worker").stdout.strip()
    outsider = lab.hosts["outsider1"]
    # outsider1 is made a worker of this run's inventory; manager1 refuses its connections.
    extra = tmp_path / "outsider-as-worker.yml"
    extra.write_text(json.dumps({"workers": {"hosts": {"outsider1": None}}}))
    reject = f"INPUT -s {outsider} -p tcp --dport 2377 -j REJECT --reject-with tcp-reset"
    lab.ssh("manager1", f"iptables -I {reject}")
    try:
        play = tmp_path / "join.yml"
        play.write_text(json.dumps([{"name": "join", "hosts": "swarm", "gather_facts": False,
                                     "roles": [{"role": "swarm_cluster"}]}]))
        run = lab.playbook(str(play), "-i", str(extra), check=False)
        output = run.stdout + run.stderr
        assert run.returncode != 0, output[-3000:]
        assert "output has been hidden" not in output, output[-3000:]
        assert "swarm join through" in output and "failed" in output, output[-3000:]
        assert "refused" in output.lower() or "unavailable" in output.lower(), output[-3000:]
        assert token not in output and not scan(output), "a join token in the output"
        assert lab.docker_json("outsider1", "info", "--format", "{{json .Swarm.LocalNodeState}}") == "inactive"
    finally:
        lab.ssh("manager1", f"iptables -D {reject}", check=False)
