"""Plans from the one read per host (swarm_host_info): which write tasks of the engine and
firewall layers run on a host, and why. Pure functions, no engine."""

from __future__ import annotations

from ansible.module_utils.swarmops.hostread import file_digest, haproxy, parse_chain, parse_saved

from library import iptables_chain
from plugins.filter.swarmops import (
    boot_unit_plan,
    engine_plan,
    engine_setting_errors,
    firewall_rules,
    firewall_setting_errors,
    iptables_plan,
    lb_plan,
    node_changes,
)

CONFIG = {"log-driver": "json-file", "log-opts": {"max-file": "3", "max-size": "10m"}}


def host(settings=CONFIG, mode="0644", running=True, enabled=True, installed=True):
    return {"engine": {"installed": installed, "running": running, "enabled": enabled},
            "daemon_json": {"path": "/etc/docker/daemon.json", "settings": settings, "mode": mode, "uid": 0,
                            "gid": 0, "error": "" if settings is not None else "the file does not exist"}}


def test_a_converged_engine_has_nothing_to_do():
    assert engine_plan(host(), CONFIG) == {"daemon_json": [], "service": []}


def test_each_difference_is_a_reason_to_run_its_task():
    plan = engine_plan(host(settings={**CONFIG, "debug": True}, running=False), CONFIG)
    assert plan == {"daemon_json": ["settings differ: debug"], "service": ["the engine is not running"]}
    missing = engine_plan(host(settings=None), CONFIG)["daemon_json"]
    assert missing == ["/etc/docker/daemon.json: the file does not exist"]
    assert engine_plan(host(mode="0600"), CONFIG)["daemon_json"] == ["mode or owner differ (0600, uid 0, gid 0)"]
    assert engine_plan(host(enabled=False), CONFIG)["service"] == ["the engine is not enabled at boot"]
    # An engine the role is told to stop is a reason too.
    stop = engine_plan(host(), CONFIG, enabled=False)["service"]
    assert stop == ["the engine is running", "the engine is enabled at boot"]


def test_without_a_read_every_task_runs():
    for missing in (None, {}, {"firewall": {}}):
        plan = engine_plan(missing, CONFIG)
        assert plan["daemon_json"] and plan["service"]
    assert "the engine was not installed" in engine_plan(host(installed=False), CONFIG)["daemon_json"][0]


RULES = firewall_rules(["10.0.0.0/24"], [["tcp", 2377], ["udp", 4789]])
PERSIST = "/etc/iptables/swarmops.v4"


def saved_text(rules, parents=("INPUT",)):
    """The file iptables_chain writes (its restore fragment with the jumps)."""
    text = iptables_chain.restore_text("filter", "SWARMOPS-INPUT", rules)
    return text.replace("COMMIT", "\n".join([f"-I {p} 1 -j SWARMOPS-INPUT" for p in parents] + ["COMMIT"]))


def firewall(rules=RULES, jump=True, saved=RULES):
    return {"iptables": {"rules": rules, "jumps": {"INPUT": jump},
                         "saved": parse_saved(saved_text(saved), "SWARMOPS-INPUT") if saved is not None else None}}


def test_the_saved_file_reads_back_as_what_was_saved():
    assert parse_saved(saved_text(RULES), "SWARMOPS-INPUT") == {"rules": RULES, "jump_from": ["INPUT"]}
    assert parse_saved(None, "SWARMOPS-INPUT") is None
    assert parse_chain("-N SWARMOPS-INPUT\n-A SWARMOPS-INPUT -p esp -j DROP\n", "SWARMOPS-INPUT") == ["-p esp -j DROP"]


def test_a_converged_chain_has_nothing_to_do():
    assert iptables_plan(firewall(), RULES, ["INPUT"], PERSIST) == []
    assert iptables_plan(firewall(saved=None), RULES, ["INPUT"], "") == []  # nothing saved, none asked for


def test_chain_differences_are_named():
    assert iptables_plan(firewall(rules=None, jump=False), RULES, ["INPUT"], PERSIST) == [
        "the chain does not exist", "no jump from INPUT"]
    assert iptables_plan(firewall(rules=RULES[::-1]), RULES, ["INPUT"], PERSIST) == ["the chain's rules differ"]
    assert iptables_plan(firewall(saved=RULES[:1]), RULES, ["INPUT"], PERSIST) == [f"{PERSIST} differs"]
    assert iptables_plan(firewall(saved=None), RULES, ["INPUT"], PERSIST) == [f"{PERSIST} does not exist"]
    assert iptables_plan({}, RULES, ["INPUT"], PERSIST) == ["the chain was not read"]
    # Rules are compared as iptables_chain writes them: runs of spaces do not count.
    assert iptables_plan(firewall(), [r.replace(" ", "  ") for r in RULES], ["INPUT"], PERSIST) == []


MANAGED = ["log-driver", "log-opts", "data-root", "metrics-addr", "default-address-pools", "labels"]


def test_engine_settings_name_live_restore_and_the_keys_the_role_manages():
    assert engine_setting_errors({"debug": True}, MANAGED) == []
    (live,) = engine_setting_errors({"live-restore": True}, MANAGED)
    assert "live-restore" in live and "incompatible with swarm mode" in live
    (managed,) = engine_setting_errors({"data-root": "/srv", "labels": ["a=b"], "debug": True}, MANAGED)
    assert managed.startswith("docker_engine_extra_config sets data-root, labels, which the role manages")
    assert len(engine_setting_errors({"live-restore": True, "log-driver": "x"}, MANAGED)) == 2


def test_firewall_settings_name_bad_networks_an_address_outside_them_and_firewalld():
    read = {"firewalld_running": False}
    assert firewall_setting_errors(["10.0.0.0/24"], "10.0.0.5", "iptables", read) == []
    (bad,) = firewall_setting_errors(["10.0.0.0/24", "ten"], "10.0.0.5", "iptables", read)
    assert "not networks" in bad and "ten" in bad
    (outside,) = firewall_setting_errors(["10.0.1.0/24"], "10.0.0.5", "iptables", read)
    assert "this node advertises 10.0.0.5" in outside
    assert firewall_setting_errors([], "10.0.0.5", "iptables", read) == [outside]
    assert firewall_setting_errors(["10.0.0.0/24"], "node1.example", "iptables", read)  # not an address
    (firewalld,) = firewall_setting_errors(["10.0.0.0/24"], "10.0.0.5", "nftables", {"firewalld_running": True})
    assert "firewalld is running" in firewalld and "allowed backends" in firewalld
    assert firewall_setting_errors(["10.0.0.0/24"], "10.0.0.5", "firewalld", {"firewalld_running": True}) == []


NODES = [{"node_id": "n1", "hostname": "worker1", "labels": {"zone": "a", "ssd": "true"}, "availability": "active"},
         {"node_id": "n2", "hostname": "worker2", "labels": {}, "availability": "drain"}]


def want(host, node_id, labels=None, availability=""):
    return {"host": host, "node_id": node_id, "labels": labels or {}, "availability": availability}


def test_a_converged_cluster_has_no_node_to_change():
    wants = [want("worker1", "n1", {"zone": "a"}, "active"), want("worker2", "n2", availability="drain"),
             want("manager1", "m1")]  # nothing asked of manager1: not even looked up
    assert node_changes(wants, NODES) == []
    # Labels compare as strings, as the engine keeps them; None is the empty string.
    assert node_changes([want("worker1", "n1", {"ssd": True})], NODES) == [
        {"node": "n1", "labels": {"ssd": "True"}}]
    assert node_changes([want("worker2", "n2", {"gpu": None})], NODES) == [{"node": "n2", "labels": {"gpu": ""}}]


def test_only_what_differs_is_asked_of_a_node():
    wants = [want("worker1", "n1", {"zone": "b"}, "active"), want("worker2", "n2", {"zone": "a"}, "active")]
    assert node_changes(wants, NODES) == [{"node": "n1", "labels": {"zone": "b"}},
                                          {"node": "n2", "labels": {"zone": "a"}, "availability": "active"}]


def test_a_node_that_joins_in_this_run_is_named_by_host_except_in_check_mode():
    wants = [want("worker3", "", {"zone": "c"}), want("worker4", "", availability="drain")]
    assert node_changes(wants, NODES) == [{"node": "worker3", "labels": {"zone": "c"}},
                                          {"node": "worker4", "availability": "drain"}]
    # In check mode it has not joined: no manager knows it, so it is left to the check's report.
    assert node_changes(wants, NODES, joined_only=True) == []


def test_a_load_balancer_whose_file_holds_the_rendered_text_has_nothing_to_do(tmp_path):
    # The module's read on the host and the plan on the controller hash the text alike.
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("global\n  maxconn 100 # é\n", encoding="utf-8")
    read = haproxy(str(cfg), str(tmp_path / "haproxy.pid"))
    assert read["config"]["exists"] and read["running"] is False
    plan = lb_plan(dict(read, installed=True, running=True, enabled=True, config=dict(read["config"], uid=0, gid=0,
                                                                                       mode="0644")),
                   "global\n  maxconn 100 # é\n")
    assert plan == {"install": [], "config": [], "service": []}


def test_each_load_balancer_difference_is_a_reason_to_run_its_task(tmp_path):
    read = haproxy(str(tmp_path / "missing.cfg"), str(tmp_path / "haproxy.pid"))
    plan = lb_plan(dict(read, installed=False, enabled=False), "global\n")
    assert plan["install"] == ["HAProxy is not installed"]
    assert plan["config"] == [f"{tmp_path / 'missing.cfg'} does not exist"]
    assert plan["service"] == ["HAProxy is not running", "HAProxy is not enabled at boot"]
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("global\n")
    seen = dict(haproxy(str(cfg), "/nonexistent"), installed=True, running=True, enabled=True)
    assert lb_plan(seen, "global\n  maxconn 1\n")["config"] == [f"{cfg} differs"]
    owned = dict(seen, config=dict(seen["config"], mode="0600", uid=0, gid=0))
    assert lb_plan(owned, "global\n")["config"] == ["mode or owner differ (0600, uid 0, gid 0)"]
    # Without the preflight's read (the role on its own), every task runs and decides for itself.
    assert lb_plan(None, "global\n") == {k: ["this host was not read"] for k in ("install", "config", "service")}


UNIT = "[Unit]\nDescription=restore\n"


def unit_read(tmp_path, text=UNIT, enabled=True, mode="0644"):
    path = tmp_path / "swarmops-firewall.service"
    facts = {"exists": False, "path": str(path)}
    if text is not None:
        path.write_text(text)
        facts = dict(file_digest(str(path)), mode=mode, uid=0, gid=0)
    return {"systemd": True, "boot_unit": dict(facts, enabled=enabled)}


def test_a_kept_boot_unit_has_nothing_to_do(tmp_path):
    assert boot_unit_plan(unit_read(tmp_path), UNIT, True) == {"write": [], "enable": [], "remove": []}
    # Without systemd the read has no unit and the role keeps none: nothing to do either way.
    for wanted in (True, False):
        assert boot_unit_plan({"systemd": False, "boot_unit": None}, UNIT, wanted) == {
            "write": [], "enable": [], "remove": []}


def test_each_boot_unit_difference_is_a_reason_to_run_its_task(tmp_path):
    missing = boot_unit_plan(unit_read(tmp_path, text=None, enabled=False), UNIT, True)
    assert missing["write"] == [f"{tmp_path / 'swarmops-firewall.service'} does not exist"]
    assert missing["enable"] == ["the unit is not enabled at boot"]
    assert boot_unit_plan(unit_read(tmp_path, text="old\n"), UNIT, True)["write"] == [
        f"{tmp_path / 'swarmops-firewall.service'} differs"]
    assert boot_unit_plan(unit_read(tmp_path, mode="0600"), UNIT, True)["write"] == [
        "mode or owner differ (0600, uid 0, gid 0)"]
    # Nothing saved to restore (iptables without a persist file): a unit left behind goes.
    assert boot_unit_plan(unit_read(tmp_path), UNIT, False) == {
        "write": [], "enable": [],
        "remove": [f"{tmp_path / 'swarmops-firewall.service'} exists and nothing is saved to restore"]}
    assert boot_unit_plan(unit_read(tmp_path, text=None), UNIT, False)["remove"] == []
    # Without a read (the role on its own, or a read without the unit), every task runs.
    assert boot_unit_plan(None, UNIT, True) == {"write": ["this host was not read"],
                                                "enable": ["this host was not read"], "remove": []}
    assert boot_unit_plan({"systemd": True}, UNIT, False)["remove"] == ["this host was not read"]
