"""The cluster modules' shared pure parts (module_utils/swarmops/cluster.py): secrets handed
over only to no_log tasks, fingerprints that do not reveal them, finding a node by name or ID."""

from ansible.module_utils.swarmops.cluster import find_node, fingerprint, hand_over


class FakeModule:
    def __init__(self, no_log):
        self.no_log = no_log
        self.no_log_values = set()
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)


def test_hand_over_only_to_no_log_tasks():
    m = FakeModule(no_log=True)
    assert hand_over(m, "SWMTKN-1-abc", "token") == "SWMTKN-1-abc" and not m.warnings
    m = FakeModule(no_log=False)
    assert hand_over(m, "SWMTKN-1-abc", "token") is None
    assert "SWMTKN-1-abc" in m.no_log_values and "no_log: true" in m.warnings[0]


def test_fingerprint_does_not_reveal_the_secret():
    fp = fingerprint("SWMTKN-1-secretsecret")
    assert fp.startswith("sha256:") and "secret" not in fp and fingerprint(None) is None


def test_find_node():
    nodes = [{"ID": "abcdef123", "Description": {"Hostname": "w1"}, "Status": {"State": "ready"}},
             {"ID": "zzz999", "Description": {"Hostname": "w2"}, "Status": {"State": "down"}},
             {"ID": "yyy888", "Description": {"Hostname": "w2"}, "Status": {"State": "ready"}}]
    assert find_node(nodes, "w1")[0]["ID"] == "abcdef123"
    assert find_node(nodes, "abcd")[0]["ID"] == "abcdef123"
    assert find_node(nodes, "w2")[0]["ID"] == "yyy888"  # the live one of two with the same name
    assert find_node(nodes, "nope") == (None, "no node with hostname or ID 'nope'")
