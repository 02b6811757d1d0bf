"""Swarm settings diff: parsing, planning from the current spec, init-only mismatches."""

import pytest
from ansible.module_utils.swarmops import swarm_settings as ss

DAY = 86400 * 10**9

CURRENT = {
    "Name": "default", "Labels": {"team": "ops"},
    "Orchestration": {"TaskHistoryRetentionLimit": 5},
    "Raft": {"SnapshotInterval": 10000, "KeepOldSnapshots": 0, "LogEntriesForSlowFollowers": 500,
             "ElectionTick": 10, "HeartbeatTick": 1},
    "Dispatcher": {"HeartbeatPeriod": 5 * 10**9},
    "CAConfig": {"NodeCertExpiry": 90 * DAY, "ForceRotate": 2},
    "TaskDefaults": {},
    "EncryptionConfig": {"AutoLockManagers": False},
}


@pytest.mark.parametrize(("value", "ns"), [
    ("90d", 90 * DAY), ("2160h", 90 * DAY), ("1h30m", 5400 * 10**9), ("5s", 5 * 10**9),
    ("500ms", 5 * 10**8), (30, 30 * 10**9), ("45", 45 * 10**9), (1.5, 15 * 10**8),
])
def test_parse_duration(value, ns):
    assert ss.parse_duration(value, "cert_expiry") == ns


@pytest.mark.parametrize("value", ["bogus", "", "5x", "h", "-5s", 0, -3, True, "5s junk"])
def test_parse_duration_rejects_and_names_the_field(value):
    with pytest.raises(ValueError, match="cert_expiry"):
        ss.parse_duration(value, "cert_expiry")


def test_format_duration_uses_the_largest_whole_unit():
    assert ss.format_duration(90 * DAY) == "90d"
    assert ss.format_duration(36 * 3600 * 10**9) == "36h"
    assert ss.format_duration(5 * 10**9) == "5s"
    assert ss.format_duration(1500 * 10**6) == "1500ms"
    assert ss.format_duration(None) is None


def test_validate_rejects_bad_values_naming_the_field():
    with pytest.raises(ValueError, match="task_history_limit"):
        ss.validate({"task_history_limit": "many"})
    with pytest.raises(ValueError, match="autolock"):
        ss.validate({"autolock": "yes please"})
    assert ss.validate({"cert_expiry": "30d", "autolock": True, "snapshot_interval": None}) == {
        "cert_expiry": 30 * DAY, "autolock": True}


def test_same_settings_plan_no_change():
    wanted = ss.validate({"cert_expiry": "2160h", "task_history_limit": 5, "autolock": False})
    new, changes = ss.plan(CURRENT, wanted)
    assert changes == []
    assert new == CURRENT


def test_plan_changes_only_what_was_given_and_keeps_the_rest():
    wanted = ss.validate({"task_history_limit": 3, "dispatcher_heartbeat": "10s"})
    new, changes = ss.plan(CURRENT, wanted)
    assert changes == [
        {"setting": "dispatcher_heartbeat", "before": "5s", "after": "10s"},
        {"setting": "task_history_limit", "before": 5, "after": 3},
    ]
    assert new["Orchestration"]["TaskHistoryRetentionLimit"] == 3
    # everything else is sent back as it was: the update replaces the whole spec
    assert new["CAConfig"] == {"NodeCertExpiry": 90 * DAY, "ForceRotate": 2}
    assert new["Labels"] == {"team": "ops"} and new["Raft"] == CURRENT["Raft"]
    assert CURRENT["Orchestration"]["TaskHistoryRetentionLimit"] == 5  # not modified in place


def test_plan_fills_a_missing_section_and_compares_with_engine_defaults():
    spec = {"Name": "default", "Orchestration": {}}
    _, changes = ss.plan(spec, ss.validate({"task_history_limit": 5, "snapshot_interval": 10000}))
    assert changes == []  # the engine defaults already hold
    new, changes = ss.plan(spec, ss.validate({"autolock": True}))
    assert new["EncryptionConfig"] == {"AutoLockManagers": True}
    assert changes == [{"setting": "autolock", "before": False, "after": True}]


def test_init_spec_has_only_what_was_given():
    assert ss.init_spec(ss.validate({"cert_expiry": "30d", "autolock": True})) == {
        "CAConfig": {"NodeCertExpiry": 30 * DAY}, "EncryptionConfig": {"AutoLockManagers": True}}


def test_current_shows_every_setting():
    assert ss.current(CURRENT) == {"cert_expiry": "90d", "dispatcher_heartbeat": "5s",
                                   "task_history_limit": 5, "snapshot_interval": 10000,
                                   "keep_old_snapshots": 0, "autolock": False}


def test_init_only_mismatches():
    cluster = {"DefaultAddrPool": ["10.0.0.0/8"], "SubnetSize": 24, "DataPathPort": 4789}
    assert ss.init_only_mismatches(cluster, "10.1.1.1", {"default_addr_pool": ["10.0.0.0/8"],
                                                         "subnet_size": 24, "advertise_addr": "10.1.1.1"}) == []
    out = ss.init_only_mismatches(cluster, "10.1.1.1", {
        "default_addr_pool": ["10.20.0.0/16"], "subnet_size": 26, "data_path_port": 4790,
        "advertise_addr": "10.1.1.2:2377"})
    assert [m.split(" ")[0] for m in out] == ["default_addr_pool", "subnet_size", "data_path_port", "advertise_addr"]
    # an interface name cannot be compared with an address: no warning
    assert ss.init_only_mismatches(cluster, "10.1.1.1", {"advertise_addr": "eth0"}) == []


def test_validate_network_options():
    ss.validate_network_options({"default_addr_pool": ["10.20.0.0/16"], "subnet_size": 24, "data_path_port": 4789})
    with pytest.raises(ValueError, match="default_addr_pool"):
        ss.validate_network_options({"default_addr_pool": ["not-a-cidr"]})
    with pytest.raises(ValueError, match="subnet_size"):
        ss.validate_network_options({"subnet_size": 31})
    with pytest.raises(ValueError, match="data_path_port"):
        ss.validate_network_options({"data_path_port": 80})


def test_cert_expiry_has_the_engines_minimum():
    assert ss.parse_cert_expiry("1h") == 3600 * 10**9
    with pytest.raises(ValueError, match="cert_expiry: at least 1h"):
        ss.parse_cert_expiry("10m")
    with pytest.raises(ValueError, match="cert_expiry"):
        ss.validate({"cert_expiry": 59})
