"""The lab itself: real hosts with their own names, addresses, engines, networks and faults."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from lab.netns import neighbour_limits, raise_neighbour_limits
from support.lab import SHARED_ENGINES, Lab, wait_for

SWARM_HOSTS = ["manager1", "manager2", "manager3", "worker1", "worker2"]


def _tcp_open(address: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def test_hosts_have_distinct_names_and_addresses(shared_lab: Lab):
    seen = {}
    for host, address in shared_lab.hosts.items():
        out = shared_lab.ssh(host, "hostname; cat /etc/hostname; ip -4 -o addr show dev eth0").stdout.split("\n")
        assert out[0] == host and out[1] == host, out
        assert f"inet {address}/24" in out[2]
        seen[host] = address
    assert len(set(seen.values())) == len(seen) == 7  # 3 managers, 2 workers, lb1, outsider1


def test_hosts_have_no_route_off_the_lab(shared_lab: Lab):
    routes = shared_lab.ssh("worker1", "ip -4 route show; ip -6 route show").stdout
    assert "default" not in routes, routes


def test_each_host_runs_its_own_engine(shared_lab: Lab):
    ids = {}
    for host in shared_lab.hosts:
        info = json.loads(shared_lab.ssh(host, "docker info --format '{{json .}}'").stdout)
        assert info["Name"] == host
        ids[host] = info["ID"]
        # The engine was started by Debian's init script with the lab's offline-image setting.
        env = shared_lab.ssh(host, "tr '\\0' '\\n' < /proc/$(cat /run/docker.pid)/environ").stdout
        assert "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1" in env
        assert "Docker is running" in shared_lab.ssh(host, "service docker status").stdout
    assert len(set(ids.values())) == len(ids)


def test_probe_images_are_on_every_engine(shared_lab: Lab):
    for host in shared_lab.hosts:
        tags = shared_lab.ssh(host, "docker images --format '{{.Repository}}:{{.Tag}}'").stdout.split()
        assert {"swarmops/probe:1", "swarmops/probe:2", "swarmops/probe:broken"} <= set(tags)


def test_swarm_formed_over_ssh_has_leader_reachable_and_five_ready_nodes(shared_lab: Lab):
    nodes = shared_lab.nodes()
    assert sorted(nodes) == SWARM_HOSTS
    assert all(n["status"] == "Ready" for n in nodes.values()), nodes
    assert nodes["manager1"]["manager"] == "Leader"
    assert nodes["manager2"]["manager"] == nodes["manager3"]["manager"] == "Reachable"
    assert nodes["worker1"]["manager"] == nodes["worker2"]["manager"] == ""


def test_shared_lab_runs_three_engine_versions(shared_lab: Lab):
    if shared_lab.engine_skip:
        pytest.skip(f"the newer engines cannot be fetched here: {shared_lab.engine_skip}")
    rows = {r["host"]: r for r in shared_lab.status()}
    for host, series in SHARED_ENGINES.items():
        assert rows[host]["engine_series"] == series and rows[host]["engine_version"].startswith(series + "."), rows
    # Debian 12's client (API 1.41) reads every engine, and the managers see each node's version.
    for host, series in SHARED_ENGINES.items():
        assert shared_lab.docker(host, "version", "--format", "{{.Server.Version}}").stdout.startswith(series)
    out = shared_lab.docker("manager3", "node", "ls", "--format", "{{.Hostname}} {{.EngineVersion}}").stdout
    seen = dict(line.split() for line in out.splitlines())
    assert {h: v[: len(SHARED_ENGINES[h])] for h, v in seen.items()} == SHARED_ENGINES, seen
    # A newer engine starts the way the roles expect: Debian's init script, its own dockerd.
    env = shared_lab.ssh("manager3", "tr '\\0' '\\n' < /proc/$(cat /run/docker.pid)/environ").stdout
    assert "/engines/28.5/root/usr/sbin" in env and "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1" in env


def test_lab_status_reports_every_host(shared_lab: Lab):
    rows = {r["host"]: r for r in shared_lab.status()}
    assert rows["manager1"]["swarm"] == "manager" and rows["worker1"]["swarm"] == "worker"
    assert rows["lb1"]["swarm"] == "inactive" and rows["outsider1"]["swarm"] == "inactive"
    assert all(r["ssh"] and r["engine"] for r in rows.values())


def _neighbour_sysctls() -> tuple[int, ...]:
    return tuple(int(Path(f"/proc/sys/net/ipv4/neigh/default/gc_thresh{i}").read_text()) for i in (1, 2, 3))


def test_neighbour_table_limits_fit_the_lab_size(shared_lab: Lab):
    # After `lab up`, the machine's shared ARP table limits are at least what the lab asks.
    assert all(a >= b for a, b in zip(_neighbour_sysctls(), neighbour_limits(len(shared_lab.hosts)), strict=True))
    # What `lab up` of a 100-host lab does to them (without making 100 hosts): raised, and
    # a small lab afterwards lowers nothing.
    raise_neighbour_limits(100)
    big = _neighbour_sysctls()
    assert all(a >= b for a, b in zip(big, neighbour_limits(100), strict=True)), big
    assert raise_neighbour_limits(len(shared_lab.hosts)) == ""
    assert _neighbour_sysctls() == big


def test_overlay_network_carries_traffic_between_hosts(shared_lab: Lab):
    net = f"ov{uuid.uuid4().hex[:6]}"
    shared_lab.ssh("manager1", f"docker network create -d overlay --attachable {net}")
    try:
        shared_lab.ssh("manager1", f"docker run -d --name {net}a --network {net} swarmops/probe:1")
        shared_lab.ssh("worker1", f"docker run -d --name {net}b --network {net} swarmops/probe:1")
        ip = shared_lab.ssh(
            "manager1", f"docker inspect -f '{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}' {net}a"
        ).stdout.strip()
        assert re.match(r"^\d+\.\d+\.\d+\.\d+$", ip), ip
        fetch = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | docker exec -i {net}b nc -w 2 {ip} 80"
        page = wait_for(
            lambda: shared_lab.ssh("worker1", fetch, check=False).stdout, 30, what="a page over the overlay"
        )
        assert "swarmops probe v1 on" in page
    finally:
        shared_lab.ssh("manager1", f"docker rm -f {net}a", check=False)
        shared_lab.ssh("worker1", f"docker rm -f {net}b", check=False)
        shared_lab.ssh("manager1", f"docker network rm {net}", check=False)


def test_host_mode_published_port_answers(shared_lab: Lab):
    name = f"hp{uuid.uuid4().hex[:6]}"
    shared_lab.ssh(
        "manager1",
        f"docker service create -q --detach --name {name} --mode global "
        "--constraint node.role==worker --env PROBE_NODE='{{.Node.Hostname}}' "
        f"--publish mode=host,target=80,published=18080 swarmops/probe:1",
    )
    try:

        def pages():
            out = []
            for host in ("worker1", "worker2"):
                r = subprocess.run(
                    ["curl", "-s", "-m", "2", f"http://{shared_lab.hosts[host]}:18080/"], capture_output=True, text=True
                )
                out.append(r.stdout.strip())
            return out if all(out) else None

        assert wait_for(pages, 60, what="host-mode port on both workers") == [
            "swarmops probe v1 on worker1",
            "swarmops probe v1 on worker2",
        ]
        assert not _tcp_open(shared_lab.hosts["manager1"], 18080)  # no task there, no listener
    finally:
        shared_lab.ssh("manager1", f"docker service rm {name}", check=False)


def test_kill_makes_node_down_and_restart_brings_it_back(shared_lab: Lab):
    out = shared_lab.cli("kill", "worker2").stdout
    assert "kill engine worker2" in out
    wait_for(lambda: shared_lab.nodes()["worker2"]["status"] == "Down", 60, what="worker2 Down")
    assert shared_lab.docker("worker2", "info", check=False, timeout=10).returncode != 0
    shared_lab.cli("restart", "worker2")
    wait_for(lambda: shared_lab.nodes()["worker2"]["status"] == "Ready", 60, what="worker2 Ready")
    assert "Docker is running" in shared_lab.ssh("worker2", "service docker status").stdout


def test_partition_isolates_a_host_and_heal_restores_it(shared_lab: Lab):
    worker1 = shared_lab.hosts["worker1"]
    ping = f"timeout 3 bash -c 'echo > /dev/tcp/{worker1}/22'"
    assert shared_lab.ssh("manager2", ping, check=False).returncode == 0
    shared_lab.cli("partition", "worker1")
    try:
        assert not _tcp_open(worker1, 22)
        assert shared_lab.ssh("manager2", ping, check=False).returncode != 0
        wait_for(lambda: shared_lab.nodes()["worker1"]["status"] == "Down", 60, what="worker1 Down")
    finally:
        shared_lab.cli("heal", "worker1")
    # The link is up when heal returns; the first packets may still wait on neighbour discovery
    # on a loaded machine (seen once under two pytest workers), so poll briefly.
    wait_for(lambda: _tcp_open(worker1, 22), 30, what="worker1:22 reachable after heal")
    assert shared_lab.ssh("manager2", ping, check=False).returncode == 0
    wait_for(lambda: shared_lab.nodes()["worker1"]["status"] == "Ready", 60, what="worker1 Ready")


def test_iptables_rules_are_per_host(shared_lab: Lab):
    mark = f"swarmops-test-{uuid.uuid4().hex[:6]}"
    shared_lab.ssh("lb1", f"iptables -w -A INPUT -p tcp --dport 9 -m comment --comment {mark} -j DROP")
    try:
        assert mark in shared_lab.ssh("lb1", "iptables -w -S INPUT").stdout
        assert mark not in shared_lab.ssh("outsider1", "iptables -w -S INPUT").stdout
        assert mark not in subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
    finally:
        shared_lab.ssh("lb1", f"iptables -w -D INPUT -p tcp --dport 9 -m comment --comment {mark} -j DROP", check=False)


def test_up_on_a_running_lab_changes_nothing(shared_lab: Lab):
    before = {h: shared_lab.ssh(h, "cat /run/docker.pid /run/sshd.pid").stdout for h in shared_lab.hosts}
    out = shared_lab.up(managers=3, workers=2, lb=1, outsiders=1)
    # Another engine for a host is another shape: refused too.
    other = shared_lab.cli("up", "--subnet", shared_lab.subnet, "--managers", "3", "--workers", "2", "--lb", "1",
                           "--outsiders", "1", "--engines", "manager1=26.1" if shared_lab.engines else "", check=False)
    if shared_lab.engines:
        assert other.returncode == 2 and "lab down" in other.stderr
    assert "already up" in out and "nothing changed" in out
    after = {h: shared_lab.ssh(h, "cat /run/docker.pid /run/sshd.pid").stdout for h in shared_lab.hosts}
    assert before == after
    # A different shape is refused rather than silently rebuilt.
    proc = shared_lab.cli("up", "--subnet", shared_lab.subnet, "--managers", "1", check=False)
    assert proc.returncode == 2 and "lab down" in proc.stderr


def _running(pid: str) -> bool:
    """A live process, not a zombie waiting for the machine's init to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _lab_traces(lab: Lab) -> dict[str, list[str]]:
    """Everything of this lab that could be left on the machine."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout)
    bridge = ("swl" + lab.name.replace("-", ""))[:10]
    rules = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
    mounts = Path("/proc/self/mountinfo").read_text()
    procs = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "net") in _netns_ids(lab) and _running(entry.name):
                    procs.append(entry.name)
            except OSError:
                pass
    return {
        "netns": [n for n in netns.split("\n") if n.startswith(f"{lab.name}_")],
        "links": [lk["ifname"] for lk in links if lk["ifname"].split("@")[0].startswith(bridge)],
        "rules": [r for r in rules.splitlines() if f"swarmops-lab:{lab.name}" in r],
        "mounts": [
            m for m in mounts.splitlines() if f"/swarmops-lab/{lab.name}/" in m or f"/swarmops-lab/{lab.name} " in m
        ],
        "procs": procs,
        "host_dirs": [str(p) for p in (lab.state_dir / "hosts").glob("*")],
    }


_NETNS_IDS: dict[str, list[str]] = {}


def _netns_ids(lab: Lab) -> list[str]:
    return _NETNS_IDS.get(lab.name, [])


def _remember_netns(lab: Lab) -> None:
    ids = []
    for host in lab.hosts:
        ids.append(os.readlink(f"/proc/{int(lab.ssh(host, 'cat /run/sshd.pid').stdout)}/ns/net"))
    _NETNS_IDS[lab.name] = ids


def test_stale_lab_is_cleaned_by_the_next_up(make_lab):
    lab = make_lab(managers=1, workers=1)
    _remember_netns(lab)
    # A session that ends kills every process but leaves namespaces, mounts, links and rules.
    pids = _lab_traces(lab)["procs"]
    assert len(pids) >= 4  # sshd and the engine on each host
    subprocess.run(["kill", "-9", *pids], check=True)
    wait_for(lambda: not _lab_traces(lab)["procs"], 20, what="lab processes gone")
    assert _lab_traces(lab)["netns"], "the stale namespaces should still be there"
    out = lab.up(managers=1, workers=1)
    assert "removed a stale lab" in out
    rows = lab.status()
    assert all(r["ssh"] and r["engine"] for r in rows), rows
    assert lab.ssh("worker1", "hostname").stdout.strip() == "worker1"


def test_down_leaves_nothing_behind_and_up_works_again(make_lab):
    lab = make_lab(managers=1, workers=1, lb=1)
    lab.form_swarm()
    # `lab add` makes one more host, ready and in the inventory, without touching the others.
    pid_before = lab.ssh("manager1", "cat /run/docker.pid").stdout
    assert "added worker2 (10.203." in lab.cli("add", "worker").stdout
    lab.refresh()
    assert lab.ssh("worker2", "hostname").stdout.strip() == "worker2"
    assert "worker2:" in Path(lab.inventory).read_text()
    assert lab.ssh("manager1", "cat /run/docker.pid").stdout == pid_before
    lab.ssh("manager1", "docker service create -q --detach --name web --replicas 2 swarmops/probe:1")
    wait_for(lambda: lab.ssh("worker1", "docker ps -q").stdout.strip(), 60, what="a task on worker1")
    _remember_netns(lab)
    task_pids = lab.ssh("worker1", "docker inspect -f '{{.State.Pid}}' $(docker ps -q)").stdout.split()
    assert task_pids and all(Path(f"/proc/{p}").exists() for p in task_pids)
    assert all(_lab_traces(lab).values())
    out = lab.down()
    assert "down: removed" in out
    assert _lab_traces(lab) == {k: [] for k in _lab_traces(lab)}
    assert not Path(lab.inventory).exists()
    # Containers live in namespaces of their own: they go as descendants of the engines.
    assert not [p for p in task_pids if _running(p)]
    lab.up(managers=1, workers=1)
    assert all(r["engine"] for r in lab.status())
