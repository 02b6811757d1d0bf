"""swarm_service and swarm_service_info on the shared lab (3 managers + 2 workers).

The lab has no IPVS: published ports are tested in host mode (curl from this machine to the
node running a task); for ingress mode only the endpoint spec the manager records is checked.
"""

from __future__ import annotations

import time
from datetime import datetime
from itertools import pairwise

from support.lab import wait_for
from support.workload import cleanup, http_get, ok, run, service_image

FAST = {"parallelism": 1, "delay": "1s", "monitor": "1s"}


def _ts(text: str) -> float:
    return datetime.fromisoformat(text[:26].rstrip("Z")).timestamp()


def test_service_lifecycle_create_scale_update_fail_rollback(shared_lab):
    lab = shared_lab
    web = {"name": "wl-web", "image": "swarmops/probe:1", "replicas": 3,
           "publish": [{"published": 18080, "target": 80, "mode": "host"}], "update_config": FAST}
    try:
        # create: 3 replicas, each answering on its node's host port
        r = ok(lab, "swarm_service", web)
        assert r.changed and r["status"] == "converged" and r["action"] == "create"
        svc = r["service"]
        assert svc["replicas_running"] == 3 and [t["state"] for t in svc["tasks"]] == ["running"] * 3
        for t in svc["tasks"]:
            assert "swarmops probe v1" in http_get(lab.hosts[t["node"]], 18080)

        # unchanged
        r = ok(lab, "swarm_service", web)
        assert not r.changed and r["changes"] == [] and r["status"] == "unchanged"

        # check mode predicts a scale without doing it
        r = ok(lab, "swarm_service", {**web, "replicas": 5}, "--check", "--diff")
        assert r.changed and r["changes"][0]["field"] == "mode"
        assert lab.docker("manager1", "service", "inspect", "wl-web", "--format",
                          "{{.Spec.Mode.Replicated.Replicas}}").stdout.strip() == "3"

        # scale to 5 (one per node) and back
        r = ok(lab, "swarm_service", {**web, "replicas": 5})
        assert r.changed and r["service"]["replicas_running"] == 5
        assert len({t["node"] for t in r["service"]["tasks"]}) == 5
        r = ok(lab, "swarm_service", web)
        assert r.changed and r["service"]["replicas_running"] == 3

        # a 6th replica cannot bind the fixed host port: refused, nothing changed
        r = run(lab, "swarm_service", {**web, "replicas": 6})
        assert r.failed and "host-mode port" in r.msg and "mode: global" in r.msg
        assert "max_replicas_per_node" in r.msg and "dynamic port" in r.msg
        assert r["changes"][0]["after"] == "replicated (6 replicas)"
        assert lab.docker("manager1", "service", "inspect", "wl-web", "--format",
                          "{{.Spec.Mode.Replicated.Replicas}}").stdout.strip() == "3"

        # rolling update to :2, one task at a time with a delay
        started = time.time()
        r = ok(lab, "swarm_service", {**web, "image": "swarmops/probe:2"})
        assert r.changed and r["status"] == "converged"
        assert r["service"]["update_status"]["state"] == "completed"
        new = sorted(_ts(t["created_at"]) for t in r["service"]["tasks"])
        assert all(t["image"] == "swarmops/probe:2" for t in r["service"]["tasks"])
        gaps = [b - a for a, b in pairwise(new)]
        assert all(g >= 1.0 for g in gaps), f"tasks were not replaced one by one with a 1s delay: {gaps}"
        progress = r["wait"]["progress"]
        assert [p for p in progress if p.startswith("updating: 1 running")], progress
        assert time.time() - started >= 2
        for t in r["service"]["tasks"]:
            assert "swarmops probe v2" in http_get(lab.hosts[t["node"]], 18080)

        # a broken image with failure_action rollback: back on :2, the failure named
        r = run(lab, "swarm_service", {**web, "image": "swarmops/probe:broken",
                                       "update_config": {**FAST, "failure_action": "rollback"}})
        assert r.failed and r["status"] == "failed"
        assert "rolled the service back" in r.msg and "non-zero exit (1)" in r.msg
        assert "swarmops/probe:broken" in r.msg
        assert r["service"]["update_status"]["state"] == "rollback_completed"
        assert r["service"]["failed_tasks"][0]["image"] == "swarmops/probe:broken"
        assert service_image(lab, "wl-web") == "swarmops/probe:2"
        assert r["service"]["replicas_running"] == 3

        # the spec that runs now is :2 again: asking for :2 is no change and converged
        r = ok(lab, "swarm_service", {**web, "image": "swarmops/probe:2"})
        assert not r.changed

        # a good update, then state=rolled_back restores the previous image
        ok(lab, "swarm_service", {**web, "image": "swarmops/probe:1"})
        r = ok(lab, "swarm_service", {"name": "wl-web", "state": "rolled_back"}, "--diff")
        assert r.changed and r["action"] == "rollback"
        assert {"field": "image", "before": "swarmops/probe:1", "after": "swarmops/probe:2"} in r["changes"]
        assert service_image(lab, "wl-web") == "swarmops/probe:2"
        assert all(t["image"] == "swarmops/probe:2" for t in r["service"]["tasks"])
        r = ok(lab, "swarm_service", {"name": "wl-web", "state": "rolled_back"})
        assert not r.changed

        # info sees the same
        info = ok(lab, "swarm_service_info", {"name": "wl-web"})
        (s,) = info["services"]
        assert s["replicas_running"] == 3 and s["image"] == "swarmops/probe:2"
        assert {t["state"] for t in s["tasks"]} == {"running"}

        # remove, then remove again
        assert ok(lab, "swarm_service", {"name": "wl-web", "state": "absent"}).changed
        assert not ok(lab, "swarm_service", {"name": "wl-web", "state": "absent"}).changed
    finally:
        cleanup(lab, services=["wl-web"])


def test_unplaceable_service_is_reported_pending(shared_lab):
    lab = shared_lab
    try:
        started = time.monotonic()
        r = run(lab, "swarm_service", {"name": "wl-nowhere", "image": "swarmops/probe:1", "replicas": 2,
                                       "constraints": ["node.labels.zone==mars"], "wait_timeout": 60})
        elapsed = time.monotonic() - started
        assert r.failed and r["status"] == "pending"
        assert "scheduling constraints not satisfied" in r["pending_reason"]
        assert "pending" in r.msg and "scheduling constraints" in r.msg
        assert r["service"]["task_states"] == {"pending": 2}
        assert elapsed < 30, f"pending took {elapsed:.0f}s to report: it waited instead of saying why"

        # an update whose new tasks no node can take stalls the rollout: reported the same way
        ok(lab, "swarm_service", {"name": "wl-moved", "image": "swarmops/probe:1"})
        started = time.monotonic()
        r = run(lab, "swarm_service", {"name": "wl-moved", "constraints": ["node.labels.zone==mars"],
                                       "wait_timeout": 60})
        assert r.failed and r["status"] == "pending" and "scheduling constraints" in r.msg
        assert time.monotonic() - started < 30
    finally:
        cleanup(lab, services=["wl-nowhere", "wl-moved"])


def test_bad_specs_fail_clearly_and_change_nothing(shared_lab):
    lab = shared_lab
    cases = [
        ({"publish": ["80:abc"]}, "publish: bad port '80:abc'"),
        ({"mode": "global", "replicas": 2}, "replicas: only for mode replicated"),
        ({"replicas": -1}, "replicas: must not be negative"),
        ({"update_config": {"delay": "soon"}}, "update_config.delay: expected a duration"),
        ({"update_config": {"bogus": 1}}, "update_config.bogus"),
        ({"mode": "sideways"}, "value of mode must be one of"),
    ]
    for extra, message in cases:
        r = run(lab, "swarm_service", {"name": "wl-bad", "image": "swarmops/probe:1", **extra})
        assert r.failed and message in r.msg, (extra, r.msg)
    assert "wl-bad" not in lab.docker("manager1", "service", "ls", "--format", "{{.Name}}").stdout


def test_ingress_port_recorded_and_job_completes(shared_lab):
    lab = shared_lab
    try:
        r = ok(lab, "swarm_service", {"name": "wl-ingress", "image": "swarmops/probe:1",
                                      "publish": ["18081:80/udp", "18082:80"], "wait": False})
        assert r.changed
        ports = lab.docker_json("manager1", "service", "inspect", "wl-ingress")[0]["Endpoint"]["Spec"]["Ports"]
        assert sorted((p["PublishedPort"], p["Protocol"], p["PublishMode"]) for p in ports) == [
            (18081, "udp", "ingress"), (18082, "tcp", "ingress")]
        assert not ok(lab, "swarm_service", {"name": "wl-ingress", "publish": ["18082:80/tcp", "18081:80/udp"],
                                             "wait": False}).changed

        r = ok(lab, "swarm_service", {"name": "wl-job", "image": "swarmops/probe:1", "mode": "replicated-job",
                                      "command": "sh -c 'exit 0'", "max_concurrent": 2, "total_completions": 4})
        assert r["status"] == "converged" and r["service"]["mode"] == "replicated-job"
        assert r["wait"]["progress"][-1] == "4/4 completions"
    finally:
        cleanup(lab, services=["wl-ingress", "wl-job"])


def test_global_service_follows_a_new_worker(make_lab):
    lab = make_lab(managers=1, workers=1)
    lab.form_swarm()
    spec = {"name": "wl-global", "image": "swarmops/probe:1", "mode": "global"}
    r = ok(lab, "swarm_service", spec)
    assert r["service"]["replicas_running"] == 2
    assert sorted(t["node"] for t in r["service"]["tasks"]) == ["manager1", "worker1"]

    lab.cli("add", "worker")
    lab.refresh()
    token = lab.docker("manager1", "swarm", "join-token", "-q", "worker").stdout.strip()
    lab.docker("worker2", "swarm", "join", "--advertise-addr", lab.hosts["worker2"], "--token", token,
               f"{lab.hosts['manager1']}:2377")
    wait_for(lambda: lab.nodes().get("worker2", {}).get("status") == "Ready", 60, what="worker2 ready")

    def three_running():
        r = ok(lab, "swarm_service", spec)
        assert not r.changed and r["status"] == "unchanged"
        tasks = r["service"]["tasks"]
        return sorted(t["node"] for t in tasks) == ["manager1", "worker1", "worker2"] and \
            {t["state"] for t in tasks} == {"running"}

    wait_for(three_running, 60, interval=1, what="a global task on the new worker")


# Every option at once: after the engine fills in its defaults, a re-run must still be no change.
EVERYTHING = {
    "name": "wl-all", "image": "swarmops/probe:1", "replicas": 2,
    "command": ["/bin/sh", "-c"], "args": "exec httpd -f -p 80 -h /www",
    "env": {"A": "1", "B": "two"}, "user": "root", "workdir": "/tmp", "hostname": "wl-all-host",
    "container_labels": {"c": "1"}, "stop_grace_period": "3s",
    "limits": {"cpus": "0.5", "memory": "64M"}, "reservations": {"cpus": "0.01", "memory": "8M"},
    "constraints": ["node.role==worker", "node.labels.nope!=x"], "placement_preferences": ["spread=node.labels.zone"],
    "max_replicas_per_node": 2,
    "publish": ["18100:80/tcp", {"target": 81, "protocol": "udp", "mode": "host"}],
    "mounts": [{"source": "wl-all-data", "target": "/data"}, {"type": "tmpfs", "target": "/scratch"},
               {"type": "bind", "source": "/tmp", "target": "/hosttmp", "readonly": True}],
    "labels": {"team": "ops"},
    "healthcheck": {"test": "true", "interval": "5s", "timeout": "2s", "retries": 3, "start_period": "1s"},
    "restart_policy": {"condition": "on-failure", "delay": "2s", "max_attempts": 3, "window": "10s"},
    "update_config": {"parallelism": 1, "delay": "1s", "failure_action": "rollback", "monitor": "2s",
                      "max_failure_ratio": 0.5, "order": "start-first"},
    "rollback_config": {"parallelism": 0, "delay": "0s", "failure_action": "pause", "monitor": "1s",
                        "max_failure_ratio": 0, "order": "stop-first"},
    "wait": False,
}


def test_every_option_is_idempotent_and_diffed_by_field(shared_lab):
    lab = shared_lab
    try:
        assert ok(lab, "swarm_service", EVERYTHING).changed
        spec = lab.docker_json("manager1", "service", "inspect", "wl-all")[0]["Spec"]
        assert spec["TaskTemplate"]["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 1024**2}
        assert spec["UpdateConfig"]["Order"] == "start-first" and spec["TaskTemplate"]["Placement"]["MaxReplicas"] == 2
        again = ok(lab, "swarm_service", EVERYTHING)
        assert not again.changed, again["changes"]
        # one sub-option changed: exactly that field in the diff (check mode: nothing sent)
        r = ok(lab, "swarm_service", {**EVERYTHING, "restart_policy": {**EVERYTHING["restart_policy"], "delay": "4s"}},
               "--check")
        assert r["changes"] == [{"field": "restart_policy.delay", "before": "2s", "after": "4s"}]
        assert not ok(lab, "swarm_service", EVERYTHING).changed
    finally:
        cleanup(lab, services=["wl-all"])


def test_paused_rollout_fails_then_rolled_back_recovers(shared_lab):
    lab = shared_lab
    spec = {"name": "wl-pause", "image": "swarmops/probe:1", "replicas": 2,
            "update_config": {**FAST, "failure_action": "pause"}}
    try:
        ok(lab, "swarm_service", spec)
        r = run(lab, "swarm_service", {**spec, "image": "swarmops/probe:broken"})
        assert r.failed and r["status"] == "failed" and "paused" in r.msg and "non-zero exit (1)" in r.msg
        assert r["service"]["update_status"]["state"] == "paused"
        assert service_image(lab, "wl-pause") == "swarmops/probe:broken"  # paused, not rolled back
        r = ok(lab, "swarm_service", {"name": "wl-pause", "state": "rolled_back"})
        assert r.changed and r["status"] == "converged"
        assert [t["image"] for t in r["service"]["tasks"]] == ["swarmops/probe:1"] * 2
        assert {t["state"] for t in r["service"]["tasks"]} == {"running"}
    finally:
        cleanup(lab, services=["wl-pause"])
