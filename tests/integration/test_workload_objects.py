"""swarm_network, swarm_secret and swarm_config on the shared lab.

No ESP in the lab kernel: for an encrypted overlay only the option the manager records is
checked. Service-to-service traffic uses dnsrr and `tasks.NAME` (no IPVS for VIPs).
"""

from __future__ import annotations

from support.lab import wait_for
from support.workload import cleanup, ok, run


def running_task(lab, service: str) -> dict:
    info = ok(lab, "swarm_service_info", {"name": [service]})
    tasks = [t for t in info["services"][0]["tasks"] if t["state"] == "running"]
    assert tasks, info.data
    return tasks[0]


def in_task(lab, service: str, *command: str) -> str:
    t = running_task(lab, service)
    return lab.docker(t["node"], "exec", t["container_id"], *command).stdout


def test_dnsrr_service_reachable_by_tasks_name_over_overlay(shared_lab):
    lab = shared_lab
    try:
        r = ok(lab, "swarm_network", {"name": "wl-net", "attachable": True, "subnet": "10.230.1.0/24"})
        assert r.changed and r["network"]["subnet"] == "10.230.1.0/24" and r["network"]["driver"] == "overlay"
        assert not ok(lab, "swarm_network", {"name": "wl-net", "attachable": True, "subnet": "10.230.1.0/24"}).changed

        ok(lab, "swarm_service", {"name": "wl-api", "image": "swarmops/probe:1", "replicas": 2,
                                  "endpoint_mode": "dnsrr", "networks": ["wl-net"]})
        ok(lab, "swarm_service", {"name": "wl-client", "image": "swarmops/probe:1", "networks": ["wl-net"],
                                  "constraints": ["node.role==worker"]})
        again = ok(lab, "swarm_service", {"name": "wl-api", "networks": ["wl-net"], "endpoint_mode": "dnsrr"})
        assert not again.changed
        assert lab.docker_json("manager1", "service", "inspect", "wl-api")[0]["Spec"]["EndpointSpec"]["Mode"] == "dnsrr"

        def answered():
            # (the probe image's static busybox wget crashes on lookups: plain HTTP over nc)
            out = in_task(lab, "wl-client", "sh", "-c",
                          "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 tasks.wl-api 80")
            return "swarmops probe v1" in out and out

        wait_for(answered, 30, interval=1, what="wl-client reaching tasks.wl-api over wl-net")
        addresses = in_task(lab, "wl-client", "nslookup", "tasks.wl-api")
        assert addresses.count("10.230.1.") >= 2, addresses  # both replicas, one address each

        # a network in use is neither removed nor recreated
        r = run(lab, "swarm_network", {"name": "wl-net", "state": "absent"})
        assert r.failed and "wl-api" in r.msg and "wl-client" in r.msg
        r = run(lab, "swarm_network", {"name": "wl-net", "subnet": "10.230.2.0/24"})
        assert r.failed and "subnet" in r.msg and "cannot be changed in place" in r.msg

        # an encrypted overlay: the manager records the option (the lab kernel has no ESP)
        r = ok(lab, "swarm_network", {"name": "wl-enc", "encrypted": True}, "--check")
        assert r.changed and lab.docker("manager1", "network", "inspect", "wl-enc", check=False).returncode != 0
        r = ok(lab, "swarm_network", {"name": "wl-enc", "encrypted": True})
        assert r.changed and r["network"]["encrypted"]
        assert "encrypted" in lab.docker_json("manager1", "network", "inspect", "wl-enc")[0]["Options"]
        assert not ok(lab, "swarm_network", {"name": "wl-enc", "encrypted": True}).changed
        r = ok(lab, "swarm_network", {"name": "wl-enc", "encrypted": False})
        assert r["action"] == "recreate" and not r["network"]["encrypted"]
        assert ok(lab, "swarm_network", {"name": "wl-enc", "state": "absent"}).changed
    finally:
        cleanup(lab, services=["wl-api", "wl-client"])
        cleanup(lab, networks=["wl-net", "wl-enc"])


def _versions(lab, kind: str, name: str) -> list[str]:
    out = lab.docker("manager1", kind, "ls", "--filter", f"label=swarmops.name={name}", "--format", "{{.Name}}").stdout
    return sorted(out.split())


def test_secret_and_config_rotation_update_the_service(shared_lab):
    lab = shared_lab
    try:
        r = ok(lab, "swarm_secret", {"name": "wl-pw", "data": "pw-alpha-81"})
        assert r.changed and r["secret"]["name"] == "wl-pw.v1"
        assert "pw-alpha-81" not in str(r.data)  # no_log: the value never comes back
        assert not ok(lab, "swarm_secret", {"name": "wl-pw", "data": "pw-alpha-81"}).changed
        ok(lab, "swarm_config", {"name": "wl-cfg", "data": "colour=red\n"})

        spec = {"name": "wl-sec", "image": "swarmops/probe:1", "update_config": {"monitor": "1s"},
                "secrets": [{"name": "wl-pw", "mode": "0400"}],
                "configs": [{"name": "wl-cfg", "target": "/etc/app.conf"}]}
        ok(lab, "swarm_service", spec)
        assert in_task(lab, "wl-sec", "cat", "/run/secrets/wl-pw") == "pw-alpha-81"
        assert in_task(lab, "wl-sec", "cat", "/etc/app.conf") == "colour=red\n"

        # check mode predicts the rotation and touches nothing
        r = ok(lab, "swarm_secret", {"name": "wl-pw", "data": "pw-bravo-82"}, "--check")
        assert r.changed and r["updated_services"] == ["wl-sec"]
        assert _versions(lab, "secret", "wl-pw") == ["wl-pw.v1"]

        r = ok(lab, "swarm_secret", {"name": "wl-pw", "data": "pw-bravo-82"})
        assert r.changed and r["secret"]["name"] == "wl-pw.v2" and r["updated_services"] == ["wl-sec"]
        assert r["waits"]["wl-sec"]["timed_out"] is False
        assert in_task(lab, "wl-sec", "cat", "/run/secrets/wl-pw") == "pw-bravo-82"
        assert not ok(lab, "swarm_service", spec).changed  # the service now resolves wl-pw to v2

        r = ok(lab, "swarm_config", {"name": "wl-cfg", "data": "colour=blue\n"})
        assert r["updated_services"] == ["wl-sec"]
        assert in_task(lab, "wl-sec", "cat", "/etc/app.conf") == "colour=blue\n"

        # a third version prunes the first (keep_versions: 2)
        r = ok(lab, "swarm_secret", {"name": "wl-pw", "data": "pw-charlie-83"})
        assert r["removed_versions"] == ["wl-pw.v1"]
        assert _versions(lab, "secret", "wl-pw") == ["wl-pw.v2", "wl-pw.v3"]

        # in use: absent is refused
        r = run(lab, "swarm_secret", {"name": "wl-pw", "state": "absent"})
        assert r.failed and "wl-sec" in r.msg
    finally:
        cleanup(lab, services=["wl-sec"])
        wait_for(lambda: not lab.docker("manager1", "service", "ls", "-q", "--filter", "name=wl-sec").stdout.strip(),
                 30, what="wl-sec removed")
        ok(lab, "swarm_secret", {"name": "wl-pw", "state": "absent"})
        ok(lab, "swarm_config", {"name": "wl-cfg", "state": "absent"})
    assert _versions(lab, "secret", "wl-pw") == [] and _versions(lab, "config", "wl-cfg") == []
