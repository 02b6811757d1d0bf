"""The pure parts of lab/aptrepo.py: Docker's version scheme, control files, the relations
rewritten from Debian's packages to Docker's, the index and Release files."""

from __future__ import annotations

import hashlib

import pytest

from lab import aptrepo
from lab.sh import LabError

VERSIONS = {
    "26.1": {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1", "docker-cli": "26.1.5+dfsg1-9+deb13u1+b1",
             "containerd": "1.7.24~ds1-6+deb13u1"},
    "28.5": {"docker.io": "28.5.2+dfsg4-5", "docker-cli": "28.5.2+dfsg4-5", "containerd": "2.1.9+ds1-5"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("debian", "docker"),
    [
        ("26.1.5+dfsg1-9+deb13u1+b1", "5:26.1.5-1~debian.12~bookworm"),
        ("28.5.2+dfsg4-5", "5:28.5.2-1~debian.12~bookworm"),
        ("1:20.10.24+dfsg1-1", "5:20.10.24-1~debian.12~bookworm"),
    ],
)
def test_docker_versions_follow_dockers_scheme(debian, docker):
    assert aptrepo.docker_version(debian) == docker


def test_containerd_version_and_unreadable_versions():
    assert aptrepo.containerd_version("1.7.24~ds1-6+deb13u1") == "1.7.24-1"
    with pytest.raises(LabError, match="upstream release"):
        aptrepo.upstream("git-snapshot")


def test_docker_versions_sort_above_debians_and_in_release_order():
    # The epoch 5 puts Docker's packages above any docker.io version, as on Docker's repository;
    # the two engines keep their order (the pin raised from 26.1.5 to 28.5.2 is an upgrade).
    old, new = (aptrepo.docker_version(VERSIONS[s]["docker.io"]) for s in ("26.1", "28.5"))
    assert sorted([new, old]) == [old, new]


def test_control_round_trip_keeps_continuation_lines():
    text = "Package: docker.io\nVersion: 1\nDescription: Linux container runtime\n Docker complements.\n .\n More.\n"
    fields = aptrepo.parse_control(text)
    assert fields["Description"] == "Linux container runtime\n Docker complements.\n .\n More."
    assert aptrepo.render_control(fields) == text
    with pytest.raises(LabError, match="not a field"):
        aptrepo.parse_control("Package docker.io\n")


def test_relations_are_renamed_dropped_and_deduplicated():
    renames = {"containerd": "containerd.io (>= 1.7.24-1)", "runc": None, "tini-static": "tini (>= 0.19.0-1)"}
    depends = ("libc6 (>= 2.34), containerd (>= 1.4~), iptables, runc (>= 1.0.0~rc8~), tini-static, "
               "systemd | systemd-sysusers, runc | containerd")
    assert aptrepo.rewrite_relations(depends, renames) == (
        "libc6 (>= 2.34), containerd.io (>= 1.7.24-1), iptables, tini (>= 0.19.0-1), "
        "systemd | systemd-sysusers"
    )
    assert aptrepo.rewrite_relations("containerd:amd64", renames) == "containerd.io (>= 1.7.24-1)"


def test_specs_name_dockers_packages_with_their_relations():
    specs = {(s.name, s.series): s for s in aptrepo.specs(VERSIONS)}
    assert sorted(specs) == [("containerd.io", "26.1"), ("docker-ce", "26.1"), ("docker-ce", "28.5"),
                             ("docker-ce-cli", "26.1"), ("docker-ce-cli", "28.5")]  # fmt: skip
    engine = specs[("docker-ce", "28.5")]
    assert engine.version == "5:28.5.2-1~debian.12~bookworm" and engine.source == "docker.io"
    assert "docker.io" in engine.conflicts and "docker.io" in engine.replaces
    containerd = specs[("containerd.io", "26.1")]
    assert (containerd.version, containerd.provides, containerd.conflicts) == ("1.7.24-1", "containerd", "containerd")
    # Debian 12's runc: trixie's needs glibc 2.38.
    assert containerd.renames == {"runc": "runc (>= 1.1.5)"}


def test_repackaged_control_replaces_debians_relations_with_dockers():
    original = {
        "Package": "docker.io", "Version": "28.5.2+dfsg4-5", "Architecture": "amd64",
        "Depends": "libc6 (>= 2.34), containerd (>= 1.4~), runc (>= 1.0.0~rc8~), tini-static",
        "Recommends": "apparmor, docker-cli, needrestart (>= 3.1~)",
        "Conflicts": "docker-ce, docker-ce-rootless-extras", "Breaks": "docker (<< 1.5~)",
        "Description": "Linux container runtime\n Docker complements kernel namespacing.",
    }  # fmt: skip
    spec = next(s for s in aptrepo.specs(VERSIONS) if (s.name, s.series) == ("docker-ce", "28.5"))
    control = aptrepo.repackaged_control(original, spec)
    assert control["Package"] == "docker-ce" and control["Version"] == "5:28.5.2-1~debian.12~bookworm"
    assert control["Depends"] == "libc6 (>= 2.34), containerd.io (>= 1.7.24-1), tini (>= 0.19.0-1)"
    assert control["Recommends"] == "apparmor, docker-ce-cli"
    assert control["Conflicts"] == "docker.io, docker-engine, docker-engine-cs"
    assert "Breaks" not in control and "Provides" not in control
    assert "docker.io 28.5.2+dfsg4-5 (Debian unstable), repackaged" in control["Description"]
    assert control["Description"].startswith("Linux container runtime\n Docker complements")


def test_max_glibc_reads_objdumps_symbol_versions():
    out = ("0000 DF *UND* 0000 (GLIBC_2.2.5) write\n0000 DF *UND* 0000 (GLIBC_2.34) __libc_start_main\n"
           "0000 DF *UND* 0000 (GLIBC_2.14) memcpy\n")
    assert aptrepo.max_glibc(out) == (2, 34) <= aptrepo.BOOKWORM_GLIBC
    assert aptrepo.max_glibc("0000 DF *UND* 0000 (GLIBC_2.38) strlcpy\n") > aptrepo.BOOKWORM_GLIBC
    assert aptrepo.max_glibc("statically linked\n") is None


def test_deb_filename_leaves_out_the_epoch():
    assert aptrepo.deb_filename("docker-ce", "5:26.1.5-1~debian.12~bookworm") == \
        "docker-ce_26.1.5-1~debian.12~bookworm_amd64.deb"


def test_packages_stanza_and_release_carry_sizes_and_hashes():
    data = b"a deb"
    stanza = aptrepo.parse_control(aptrepo.packages_stanza({"Package": "docker-ce", "Version": "5:1-1"},
                                                           "dists/bookworm/pool/stable/amd64/x.deb", data))
    assert stanza["Filename"] == "dists/bookworm/pool/stable/amd64/x.deb"
    assert stanza["Size"] == "5" and stanza["SHA256"] == hashlib.sha256(data).hexdigest()
    release = aptrepo.parse_control(aptrepo.release_text({"stable/binary-amd64/Packages": data}, 0))
    assert (release["Codename"], release["Components"], release["Architectures"]) == ("bookworm", "stable", "amd64")
    assert release["Date"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert release["SHA256"].split() == [hashlib.sha256(data).hexdigest(), "5", "stable/binary-amd64/Packages"]


def test_urls_match_dockers_layout():
    assert aptrepo.url("10.203.240.1") == "http://10.203.240.1:3151/linux/debian"
    assert aptrepo.key_url("10.203.240.1", 8080) == "http://10.203.240.1:8080/keys/swarmops-lab-docker.asc"
