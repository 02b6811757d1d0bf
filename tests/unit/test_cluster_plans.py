"""Pure parts of the modules themselves: CA plan, token rotation, secret hand-over."""

import pytest
from ansible.module_utils.swarmops.cluster import find_node, fingerprint, hand_over

from library import swarm_ca, swarm_token

ROOT = "-----BEGIN CERTIFICATE-----\nAAAA\nBBBB\n-----END CERTIFICATE-----\n"
OTHER = "-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----\n"
SPEC = {"Name": "default", "CAConfig": {"NodeCertExpiry": 90 * 86400 * 10**9, "ForceRotate": 1}}


def test_rotate_bumps_force_rotate_and_keeps_the_rest():
    new, changes, rotate = swarm_ca.plan_ca(SPEC, ROOT, {"rotate": True}, None)
    assert rotate and new["CAConfig"] == {"NodeCertExpiry": 90 * 86400 * 10**9, "ForceRotate": 2}
    assert SPEC["CAConfig"]["ForceRotate"] == 1 and changes


def test_given_root_that_is_already_the_root_changes_nothing():
    same = ROOT.replace("\n", "\n  ")  # whitespace differences do not matter
    new, changes, rotate = swarm_ca.plan_ca(SPEC, ROOT, {"ca_cert": same, "ca_key": "K"}, None)
    assert (changes, rotate, new) == ([], False, SPEC)
    new, changes, rotate = swarm_ca.plan_ca(SPEC, ROOT, {"ca_cert": OTHER, "ca_key": "K"}, None)
    assert rotate and new["CAConfig"]["SigningCACert"] == OTHER and new["CAConfig"]["SigningCAKey"] == "K"


def test_cert_expiry_and_external_ca():
    _, changes, rotate = swarm_ca.plan_ca(SPEC, ROOT, {}, 90 * 86400 * 10**9)
    assert changes == [] and not rotate
    new, changes, _ = swarm_ca.plan_ca(SPEC, ROOT, {"external_ca": [{"url": "https://ca:8888"}]}, 30 * 86400 * 10**9)
    assert new["CAConfig"]["ExternalCAs"] == [{"Protocol": "cfssl", "URL": "https://ca:8888", "Options": {}}]
    assert "set cert_expiry from 90d to 30d" in changes
    _, changes, _ = swarm_ca.plan_ca(new, ROOT, {"external_ca": [{"url": "https://ca:8888"}]}, None)
    assert changes == []
    with pytest.raises(ValueError, match=r"protocol: allowed values: cfssl"):
        swarm_ca.external_cas([{"url": "x", "protocol": "acme"}], None)


def test_nodes_tls_compares_subject_and_key():
    issuer = {"CertIssuerSubject": "S", "CertIssuerPublicKey": "K"}
    nodes = [{"ID": "a", "Description": {"Hostname": "m1", "TLSInfo": issuer}, "Status": {"State": "ready"}},
             {"ID": "b", "Description": {"Hostname": "w1", "TLSInfo": {"CertIssuerSubject": "S",
                                                                        "CertIssuerPublicKey": "OLD"}}}]
    assert [n["tls_current"] for n in swarm_ca.nodes_tls(nodes, issuer)] == [True, False]


def test_token_rotation_plan():
    assert swarm_token.plan_rotation("none") == []
    assert swarm_token.plan_rotation("both") == ["worker", "manager"]


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
