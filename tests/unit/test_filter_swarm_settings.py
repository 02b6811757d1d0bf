"""The bootstrap manager's swarm task runs only where the preflight's read finds a difference
(plugins/filter/swarmops.py: swarm_settings_plan over module_utils' swarm_settings)."""

from __future__ import annotations

from plugins.filter.swarmops import swarm_settings_plan

SETTINGS = {"cert_expiry": "90d", "dispatcher_heartbeat": "5s", "task_history_limit": 5,
            "snapshot_interval": 10000, "keep_old_snapshots": 0, "autolock": False}
MANAGER = {"is_manager": True, "has_leader": True, "local": {"state": "active", "node_addr": "10.0.0.11"},
           "swarm": {"settings": SETTINGS, "default_addr_pool": ["10.0.0.0/8"], "subnet_size": 24,
                     "data_path_port": 4789}}
UNSET = {"cert_expiry": None, "task_history_limit": None, "autolock": None}


def test_a_converged_swarm_needs_no_call_whatever_the_spelling_of_a_setting():
    assert swarm_settings_plan(MANAGER, UNSET, {"advertise_addr": "10.0.0.11"}) == []
    same = {"cert_expiry": "2160h", "task_history_limit": "5", "autolock": False}
    assert swarm_settings_plan(MANAGER, same, {"default_addr_pool": ["10.0.0.0/8"], "subnet_size": 24}) == []


def test_each_setting_that_differs_is_a_reason():
    reasons = swarm_settings_plan(MANAGER, {"cert_expiry": "30d", "task_history_limit": 3, "autolock": True}, {})
    assert reasons == ["cert_expiry is 90d, asked 30d", "task_history_limit is 5, asked 3",
                       "autolock is False, asked True"]


def test_init_only_options_that_differ_still_reach_the_module_which_warns():
    reasons = swarm_settings_plan(MANAGER, UNSET, {"default_addr_pool": ["10.80.0.0/16"], "subnet_size": 26,
                                                   "advertise_addr": "10.0.0.12"})
    assert len(reasons) == 3
    assert all("fixed when" in r for r in reasons)


def test_no_swarm_or_no_leader_or_a_bad_value_runs_the_module():
    assert swarm_settings_plan({"is_manager": False, "local": {"state": "inactive"}}, UNSET)
    assert swarm_settings_plan(None, UNSET)
    assert swarm_settings_plan({**MANAGER, "has_leader": False}, UNSET)
    assert swarm_settings_plan(MANAGER, {"cert_expiry": "5m"}) == [
        "cert_expiry: at least 1h (the engine's minimum), got '5m'"]
