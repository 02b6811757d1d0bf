"""Operations on the VMs, last because they restart engines: maintenance.yml restarting an
engine under systemd while the routing mesh keeps answering, and the lab's fault verbs."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

from support.lab import REPO, recap, wait_for

MANAGER = "manager1"
PORT = 8082
# The bounded request loop the maintenance scenario uses (one connection per request).
PROBE_LOOP = REPO / "molecule" / "maintenance" / "probe_loop.py"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_maintenance_restarts_an_engine_under_systemd_and_the_mesh_keeps_answering(vm_lab, tmp_path):
    vm_lab.docker(MANAGER, "service", "rm", "steady", check=False)
    vm_lab.docker(
        MANAGER, "service", "create", "--detach", "--name", "steady", "--replicas", "2",
        "--constraint", f"node.hostname!={MANAGER}", "--env", "PROBE_NODE={{.Node.Hostname}}",
        "--publish", f"published={PORT},target=80,mode=ingress", "swarmops/probe:1",
    )  # fmt: skip
    stop, out = tmp_path / "stop", tmp_path / "probe.json"
    loop = None
    try:
        wait_for(lambda: vm_lab.docker(MANAGER, "service", "ls", "--filter", "name=steady",
                                       "--format", "{{.Replicas}}").stdout.strip() == "2/2",
                 timeout=180, interval=2, what="steady 2/2")  # fmt: skip
        # The node without a task answers through the mesh before the run starts.
        wait_for(lambda: _answers(f"http://{vm_lab.hosts[MANAGER]}:{PORT}/"),
                 timeout=180, interval=2, what=f"the routing mesh on {MANAGER}:{PORT}")  # fmt: skip
        before = vm_lab.ssh("worker1", "systemctl show -p MainPID --value docker").stdout.strip()
        loop = subprocess.Popen([sys.executable, str(PROBE_LOOP), "--host", vm_lab.hosts[MANAGER],
                                 "--port", str(PORT), "--interval", "0.2", "--stop-file", str(stop),
                                 "--out", str(out), "--max-seconds", "1800"])  # fmt: skip
        # The inventory's sample service runs one global task per worker and this lab has one
        # worker, so the availability guard rightly refuses the drain: lift it for this run
        # (the probe loop watches `steady`, which keeps a task on manager2).
        run = vm_lab.playbook("playbooks/maintenance.yml", "--limit", "worker1",
                              "-e", "swarm_maintenance_min_available=0", timeout=1800)  # fmt: skip
        stop.touch()
        loop.wait(timeout=60)
        summary = json.loads(out.read_text())
        print(f"mesh requests during maintenance.yml: {summary['requests']} made, {summary['failed']} failed, "
              f"longest gap {summary['longest_gap_s']} s")
        after = vm_lab.ssh("worker1", "systemctl show -p MainPID --value docker").stdout.strip()
        assert after != before, "the engine was not restarted by systemd"
        assert vm_lab.ssh("worker1", "systemctl is-active docker").stdout.strip() == "active"
        assert recap(run.stdout)["worker1"]["failed"] == 0
        node = vm_lab.nodes(MANAGER)["worker1"]
        assert (node["status"], node["availability"]) == ("Ready", "Active")
        assert summary["requests"] - summary["failed"] >= 20, f"too few requests answered: {summary}"
        assert summary["failed"] == 0, summary["failures"][:10]
    finally:
        stop.touch()
        if loop is not None and loop.poll() is None:
            loop.wait(timeout=60)
        vm_lab.docker(MANAGER, "service", "rm", "steady", check=False)


def test_lab_faults_on_vms_kill_restart_partition_heal(vm_lab):
    """The lab's fault verbs on the VM backend: the engine stopped under systemd shows Down to
    the manager, and a restart brings it back; a partitioned VM is cut off until healed."""

    def state(node: str) -> str:
        return vm_lab.nodes(MANAGER).get(node, {}).get("status", "")

    vm_lab.cli("kill", "worker1")
    assert vm_lab.ssh("worker1", "systemctl is-active docker", check=False).stdout.strip() != "active"
    wait_for(lambda: state("worker1") == "Down", timeout=120, interval=2, what="worker1 Down")
    vm_lab.cli("restart", "worker1", timeout=600)
    wait_for(lambda: state("worker1") == "Ready", timeout=180, interval=2, what="worker1 Ready again")
    vm_lab.cli("partition", "worker1")
    try:
        assert vm_lab.ssh("worker1", "true", check=False, timeout=30).returncode != 0
    finally:
        vm_lab.cli("heal", "worker1")
    wait_for(lambda: vm_lab.ssh("worker1", "true", check=False, timeout=30).returncode == 0, timeout=120,
             interval=2, what="worker1 reachable after heal")  # fmt: skip
