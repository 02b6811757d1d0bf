"""haproxy_server's pure logic: reading the runtime API's answers and planning state changes."""

import pytest
from ansible.module_utils.swarmops import haproxy

# As HAProxy 2.6 answers (columns after srv_port trimmed in the stat sample for brevity).
SERVERS_STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight \
srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state \
srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port \
srv_check_addr srv_agent_addr srv_agent_port
4 probe 1 manager1 10.0.0.11 0 0 1 1 4 8 2 0 6 0 0 0 - 8080 - 0 0 - - 0
4 probe 4 worker1 10.0.0.101 2 8 1 1 4 15 3 3 6 0 0 0 - 8080 - 0 0 - - 0
4 probe 5 worker2 10.0.0.102 2 0 1 1 4 15 3 3 6 0 0 0 - 8080 - 0 0 - - 0
5 api 1 worker2 10.0.0.102 2 1 1 1 4 15 3 3 6 0 0 0 - 9090 - 0 0 - - 0

"""

STAT = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight
probe,FRONTEND,,,3,9,9983,0,0,0,0,0,0,,,,,OPEN,
probe,manager1,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1
probe,worker1,0,0,2,4,,0,0,0,,0,,0,0,0,0,DRAIN,1
probe,worker2,0,0,1,3,,0,0,0,,0,,0,0,0,0,UP,1
probe,BACKEND,0,0,3,9,999,0,0,0,0,0,,0,0,0,0,UP,2
api,worker2,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1

"""


def servers():
    return haproxy.merge(haproxy.parse_servers_state(SERVERS_STATE), haproxy.parse_stat(STAT))


def test_servers_state_and_stat_are_read_together():
    by_key = {(s.backend, s.name): s for s in servers()}
    assert set(by_key) == {("probe", "manager1"), ("probe", "worker1"), ("probe", "worker2"), ("api", "worker2")}
    w1 = by_key[("probe", "worker1")]
    assert (w1.admin_state, w1.status, w1.sessions, w1.up) == ("drain", "DRAIN", 2, False)
    assert by_key[("probe", "worker2")].up and by_key[("probe", "worker2")].sessions == 1
    assert by_key[("api", "worker2")].admin_state == "disabled"
    m1 = by_key[("probe", "manager1")]
    assert m1.admin_state == "enabled" and not m1.up  # enabled but its health check fails


@pytest.mark.parametrize("bits, state", [(0, "enabled"), (1, "disabled"), (8, "drain"), (9, "disabled"),
                                         (2, "enabled"), (0x10, "enabled"), (0x20, "enabled")])
def test_only_the_forced_bits_are_the_operators_state(bits, state):
    # Maintenance inherited from a tracked server (0x02) or DNS (0x20) is not ours to undo.
    assert haproxy.Server("b", "s", "", 2, bits).admin_state == state


@pytest.mark.parametrize("text, message", [
    ("", "empty answer"),
    ("2\n# be_id be_name\n", "format version 1"),
    ("1\n4 probe 1 w1 1.2.3.4 2 0\n", "no header"),
    ("1\n# be_name srv_name srv_op_state srv_admin_state\nprobe w1 two 0\n", "cannot read line"),
])
def test_unreadable_servers_state_is_an_error(text, message):
    with pytest.raises(haproxy.HAProxyError, match=message):
        haproxy.parse_servers_state(text)


def test_unreadable_stat_is_an_error():
    with pytest.raises(haproxy.HAProxyError, match="CSV header"):
        haproxy.parse_stat("Unknown command\n")
    with pytest.raises(haproxy.HAProxyError, match="lacks a column"):
        haproxy.parse_stat("# pxname,svname,status\n")


def test_select_every_backend_of_a_server_or_the_named_ones():
    mine, err = haproxy.select(servers(), "worker2", None)
    assert not err and [s.backend for s in mine] == ["probe", "api"]
    mine, err = haproxy.select(servers(), "worker2", ["api"])
    assert not err and [s.backend for s in mine] == ["api"]
    assert haproxy.select(servers(), "worker1", ["api"])[1].startswith("backends: 'worker1' is not a server of api")
    assert "is in no backend" in haproxy.select(servers(), "worker9", None)[1]


def test_plan_changes_only_what_differs_with_the_runtime_words():
    mine, _ = haproxy.select(servers(), "worker2", None)
    changes = haproxy.plan(mine, "drain")
    assert [(c["backend"], c["before"], c["after"]) for c in changes] == [("probe", "enabled", "drain"),
                                                                          ("api", "disabled", "drain")]
    assert changes[0]["command"] == "set server probe/worker2 state drain"
    assert [c["command"] for c in haproxy.plan(mine, "enabled")] == ["set server api/worker2 state ready"]
    assert [c["command"] for c in haproxy.plan(mine, "disabled")] == ["set server probe/worker2 state maint"]
    w1, _ = haproxy.select(servers(), "worker1", None)
    assert haproxy.plan(w1, "drain") == []
    with pytest.raises(ValueError, match="state: expected one of enabled, disabled, drain"):
        haproxy.plan(w1, "off")


def test_short_of_others_counts_only_backends_where_the_target_serves():
    all_servers = servers()
    w2, _ = haproxy.select(all_servers, "worker2", None)
    # probe: worker2 serves and worker1 is drained, manager1 down: no other server up.
    assert haproxy.short_of_others(all_servers, w2, 1) == ["probe (0 other server(s) up, 1 needed)"]
    assert haproxy.short_of_others(all_servers, w2, 0) == []
    m1, _ = haproxy.select(all_servers, "manager1", None)
    assert haproxy.short_of_others(all_servers, m1, 1) == []  # manager1 is down: nothing to lose
    assert haproxy.others_up(all_servers, m1[0]) == 1
