"""swarm_ca's pure parts: the CA plan (rotation, a given root, cert expiry, external CAs) and
which nodes hold a certificate of the current root."""

import pytest

from library import swarm_ca

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
