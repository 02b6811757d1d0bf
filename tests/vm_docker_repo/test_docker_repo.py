"""roles/docker_engine's Docker-repository path (docker_engine_repository: docker) on real
Debian 12 VMs, against the lab's signed Docker-shaped apt repository (lab/aptrepo.py):
site.yml converges a swarm from bare VMs with the engine pinned to 26.1.5, a second run
changes nothing, the packages come from that repository through a sources entry signed-by its
key, raising the pin to 28.5.2 upgrades the engine that runs, and a pin back to 26.1.5 is
refused naming docker_engine_version, with nothing on the hosts changed.
Run in order (each test builds on the lab the previous ones left); slow: `make
test-docker-repo`."""

from __future__ import annotations

from support.vm_firewalld import nodes_ready, wait_ready

MEMBERS = ("manager1", "worker1")
SOURCES = "/etc/apt/sources.list.d/docker.list"
KEYRING = "/etc/apt/keyrings/docker.asc"


def _installed(lab, host: str) -> dict[str, str]:
    out = lab.ssh(host, "dpkg-query -W -f='${Package} ${db:Status-Abbrev}${Version}\\n' "
                        "docker-ce docker-ce-cli containerd.io docker.io containerd runc 2>/dev/null || true").stdout
    found = {}
    for line in out.splitlines():
        name, _, rest = line.partition(" ")
        if rest.startswith("ii "):
            found[name] = rest[3:].strip()
    return found


def _engine_version(lab, host: str) -> str:
    """'SERVER CLIENT' as `docker version` reports them, without Debian's repack tag (+dfsg1)."""
    out = lab.ssh(host, "docker version --format '{{.Server.Version}} {{.Client.Version}}'").stdout
    return " ".join(v.split("+", 1)[0] for v in out.split())


def _upstream(version: str) -> str:
    return version.split(":", 1)[-1].split("-", 1)[0]


def _state(lab, host: str) -> dict[str, str]:
    """What a refused run must leave as it was: packages, apt's sources and key, daemon.json,
    the engine process."""
    return {
        "packages": lab.ssh(host, "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' | sha256sum").stdout,
        "files": lab.ssh(host, f"sha256sum {SOURCES} {KEYRING} /etc/docker/daemon.json").stdout,
        "engine": lab.ssh(host, "systemctl show -p MainPID -p ActiveState docker").stdout,
    }


def test_site_converges_a_swarm_from_the_docker_repository_at_the_pinned_version(repo_lab):
    lab, old = repo_lab.lab, repo_lab.versions[0]
    first = repo_lab.site(old)
    assert first.rc == 0
    assert all(h["failed"] == 0 and h["unreachable"] == 0 for h in first.recap.values()), first.recap
    wait_ready(lab)
    for host in MEMBERS:
        installed = _installed(lab, host)
        assert installed["docker-ce"] == old and installed["docker-ce-cli"] == old, installed
        assert installed["containerd.io"] == repo_lab.repo.packages["containerd.io"][0], installed
        # Debian's engine packages are not there: docker-ce and containerd.io replace them.
        assert "docker.io" not in installed and "containerd" not in installed, installed
        assert _engine_version(lab, host) == f"{_upstream(old)} {_upstream(old)}"
        assert lab.ssh(host, "systemctl is-active docker; systemctl is-enabled docker").stdout.split() == \
            ["active", "enabled"]


def test_a_second_run_changes_nothing(repo_lab):
    again = repo_lab.site(repo_lab.versions[0])
    assert again.changed == 0, again.stdout[-4000:]


def test_the_packages_come_from_the_lab_repository_signed_by_its_key(repo_lab):
    lab = repo_lab.lab
    served_key = repo_lab.repo.armored_key.read_text()
    for host in MEMBERS:
        policy = lab.ssh(host, "apt-cache policy docker-ce docker-ce-cli containerd.io").stdout
        # The installed version (***) is the one the lab's repository offers.
        block = policy.split("docker-ce-cli:")[0]
        installed_line = block.split("***", 1)[1].splitlines()
        assert repo_lab.versions[0] in installed_line[0], policy
        assert f"{repo_lab.url} bookworm/stable amd64 Packages" in installed_line[1], policy
        assert policy.count(repo_lab.url) >= 5, policy  # both engine versions of two packages, containerd.io
        sources = lab.ssh(host, f"cat {SOURCES}").stdout
        assert f"signed-by={KEYRING}" in sources and f"{repo_lab.url} bookworm stable" in sources, sources
        assert lab.ssh(host, f"cat {KEYRING}").stdout == served_key
        # apt verified the signature with that key alone: the lists came from InRelease.
        lists = lab.ssh(host, "ls /var/lib/apt/lists/").stdout
        assert any(name.endswith("_dists_bookworm_InRelease") and "3151" in name for name in lists.split()), lists


def test_raising_the_pin_upgrades_the_engine_that_runs(repo_lab):
    lab, new = repo_lab.lab, repo_lab.versions[-1]
    run = repo_lab.site(new)
    assert run.rc == 0 and run.changed > 0
    wait_ready(lab)
    for host in MEMBERS:
        installed = _installed(lab, host)
        assert installed["docker-ce"] == new and installed["docker-ce-cli"] == new, installed
        # The engine answering is the new one (the package only starts an engine, never restarts it).
        assert _engine_version(lab, host) == f"{_upstream(new)} {_upstream(new)}"
    assert nodes_ready(lab) == {h: "Ready" for h in MEMBERS}
    again = repo_lab.site(new)
    assert again.changed == 0, again.stdout[-4000:]


def test_a_downgrade_pin_is_refused_naming_the_field_and_nothing_changes(repo_lab):
    lab, old, new = repo_lab.lab, repo_lab.versions[0], repo_lab.versions[-1]
    before = {host: _state(lab, host) for host in MEMBERS}
    run = repo_lab.site(old, check=False)
    assert run.rc != 0
    assert all(run.recap[h]["changed"] == 0 and run.recap[h]["failed"] == 1 for h in MEMBERS), run.recap
    assert f"docker_engine_version {old} is older than the installed docker-ce {new}" in run.stdout, \
        run.stdout[-4000:]
    assert "Nothing was changed" in run.stdout
    for host in MEMBERS:
        assert _state(lab, host) == before[host]
        assert _engine_version(lab, host) == f"{_upstream(new)} {_upstream(new)}"
    assert nodes_ready(lab) == {h: "Ready" for h in MEMBERS}
