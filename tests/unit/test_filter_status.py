"""The status filters (plugins/filter/swarmops.py): the status report of playbooks/status.yml,
and the status lines and degraded services the health, maintenance and recover roles use; pure
functions over module results."""

from __future__ import annotations

import json

from plugins.filter.swarmops import report_lines, report_markdown, status_report

NOW = "2026-11-24T12:00:00Z"


def node(hostname, node_id, role="worker", state="ready", availability="active", reach=None, tls=True):
    return {"hostname": hostname, "node_id": node_id, "role": role, "state": state, "availability": availability,
            "engine_version": "20.10.24", "labels": {}, "manager_reachability": reach, "tls_current": tls}


def cluster(nodes, leader="m1", reachable=3, managers=3, rotating=False):
    need = managers // 2 + 1
    return {"is_manager": True, "has_leader": True, "leader": leader, "swarm": {"id": "swarm1"},
            "quorum": {"managers": managers, "reachable": reachable, "quorum": need,
                       "has_quorum": reachable >= need, "can_still_lose": max(0, reachable - need)},
            "nodes": nodes, "ca_rotation_in_progress": rotating}


def local(hostname, node_id, not_after="2027-02-22T12:00:00+00:00"):
    return {"local": {"hostname": hostname, "node_id": node_id, "cert_not_after": not_after}}


HEALTHY = [node("m1", "a", "manager", reach="reachable"), node("m2", "b", "manager", reach="reachable"),
           node("m3", "c", "manager", reach="reachable"), node("w1", "d")]
INFOS = {"m1": local("m1", "a"), "m2": local("m2", "b"), "m3": local("m3", "c"), "w1": local("w1", "d")}
SERVICES = [{"name": "web", "mode": "replicated", "image": "probe:1", "replicas_running": 2, "replicas_desired": 2,
             "task_states": {"running": 2, "shutdown": 1}, "update_status": None}]


def test_a_healthy_swarm_has_no_problems_and_every_certificate():
    report = status_report(cluster(HEALTHY), INFOS, SERVICES, NOW)
    assert report["problems"] == []
    assert [n["manager"] for n in report["nodes"]] == ["leader", "reachable", "reachable", "-"]
    assert {n["cert_days_left"] for n in report["nodes"]} == {90}
    assert report["services"][0]["task_states"] == {"running": 2, "shutdown": 1}
    json.dumps(report)  # the JSON file is this document


def test_problems_name_what_is_wrong():
    nodes = [node("m1", "a", "manager", reach="reachable"),
             node("m2", "b", "manager", state="down", reach="unreachable"),
             node("m3", "c", "manager", reach="reachable"), node("w1", "d", availability="drain")]
    infos = {**INFOS, "m1": local("m1", "a", "2026-12-01T00:00:00+00:00"), "m2": {"msg": "cannot connect"}}
    services = [{**SERVICES[0], "replicas_running": 1, "update_status": {"state": "rollback_completed"}}]
    problems = status_report(cluster(nodes, reachable=2), infos, services, NOW)["problems"]
    assert "no manager to spare: losing one more manager loses quorum" in problems
    assert "node m2 is down" in problems and "manager m2 is unreachable" in problems
    assert "node w1 is drain" in problems
    assert any(p.startswith("node m1's certificate expires in 6 days") for p in problems)
    assert "m2: engine not answering (cannot connect)" in problems
    assert "service web runs 1/2 tasks" in problems and "service web: update rollback_completed" in problems


def test_a_lost_quorum_is_the_first_problem():
    lost = {"is_manager": True, "has_leader": False, "leader": "", "nodes": [],
            "quorum": {"managers": 3, "reachable": None, "quorum": 2, "has_quorum": False}}
    problems = status_report(lost, {}, [], NOW)["problems"]
    assert problems[0].startswith("quorum lost") and "recover.yml" in problems[0]


def test_a_certificate_read_on_another_node_id_is_not_reported():
    # a host that left and joined again has a new node ID: its old entry gets no certificate
    infos = {**INFOS, "w1": local("w1", "zzz")}
    report = status_report(cluster(HEALTHY), infos, [], NOW)
    assert report["nodes"][-1]["cert_not_after"] is None


def test_lines_and_markdown_show_the_same_tables():
    report = status_report(cluster(HEALTHY, rotating=True), INFOS, SERVICES, NOW)
    lines = report_lines(report)
    assert lines[1].startswith("swarm swarm1  leader m1  managers reachable 3/3")
    header = next(line for line in lines if line.startswith("NODE"))
    assert "CERT EXPIRES" in header and "CURRENT CA" in header
    assert any(line.startswith("web") and "2/2" in line and "running 2, shutdown 1" in line for line in lines)
    assert lines[-1] == "PROBLEM: a root CA rotation is in progress"
    md = report_markdown(report)
    assert md.startswith("# Swarm status\n")
    assert "| m1 | manager | leader | active | ready | 20.10.24 | 2027-02-22 (90d) | yes | - |" in md
    assert "- a root CA rotation is in progress" in md


def test_markdown_escapes_pipes_in_cells():
    nodes = [node("m1", "a", "manager", reach="reachable")]
    nodes[0]["labels"] = {"zone": "a|b"}
    md = report_markdown(status_report(cluster(nodes, reachable=1, managers=1), {}, [], NOW))
    assert "zone=a\\|b" in md


def test_status_lines_report_quorum_nodes_and_services():
    from plugins.filter.swarmops import status_lines

    info = {"swarm": {"id": "abc"}, "leader": "manager1",
            "quorum": {"reachable": 3, "managers": 3, "quorum": 2, "can_still_lose": 1},
            "nodes": [{"hostname": "worker1", "role": "worker", "availability": "active", "state": "ready",
                       "engine_version": "20.10.24", "labels": {"zone": "a"}},
                      {"hostname": "manager1", "role": "manager", "availability": "active", "state": "ready",
                       "engine_version": "20.10.24", "labels": {}}],
            "services": [{"name": "probe", "mode": "global", "running": 2, "desired": 2}]}
    lines = status_lines(info)
    assert lines[0] == "swarm abc  leader manager1  managers reachable 3/3 (quorum 2, may still lose 1)"
    assert lines[2].startswith("manager1") and lines[3].startswith("worker1") and lines[3].endswith("zone=a")
    assert lines[-1].split() == ["probe", "global", "2/2"]


def test_degraded_services_names_only_those_short_of_desired():
    from plugins.filter.swarmops import degraded_services

    services = [
        {"name": "web", "mode": "replicated", "desired": 3, "running": 3},
        {"name": "api", "mode": "replicated", "desired": 3, "running": 1},
        {"name": "probe", "mode": "global", "desired": 2, "running": None},
        {"name": "job", "mode": "replicated-job", "desired": None, "running": 0},
    ]
    assert degraded_services(services) == ["api 1/3", "probe 0/2"]
    assert degraded_services([]) == []
