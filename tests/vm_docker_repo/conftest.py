"""A VM lab of its own for the engine role's Docker-repository path: 1 manager and 1 worker as
Debian 12 VMs, and a signed apt repository shaped like Docker's (lab/aptrepo.py: Debian's
engines repackaged as docker-ce, docker-ce-cli and containerd.io) served over HTTP on the
lab's bridge address, since the VMs cannot reach download.docker.com. Skipped where VMs cannot
run; the server is stopped and the lab torn down after (SWARMOPS_DOCKER_REPO_KEEP=1 keeps
both; a lab already up is reused)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
import time

import pytest

from lab import aptrepo
from support.lab import REPO, Lab
from support.vm_firewalld import play

LAB_NAME = os.environ.get("SWARMOPS_DOCKER_REPO_LAB", "swarmops-dockerrepo")
LAB_SUBNET = os.environ.get("SWARMOPS_DOCKER_REPO_SUBNET", "10.203.241.0/24")
MEMBERS = ("manager1", "worker1")


def _vm_backend_unavailable() -> str:
    proc = subprocess.run([sys.executable, "-m", "lab", "image", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    return "" if proc.returncode == 0 else (proc.stdout + proc.stderr).strip() or "lab image --check failed"


class DockerRepoLab:
    """The lab, the served repository, and the site.yml options that point the role at it."""

    def __init__(self, lab: Lab, repo: aptrepo.Repo, url: str, key_url: str) -> None:
        self.lab, self.repo, self.url, self.key_url = lab, repo, url, key_url
        # Oldest first: 5:26.1.5-1~debian.12~bookworm, 5:28.5.2-1~debian.12~bookworm.
        self.versions = repo.packages["docker-ce"]

    def options(self, version: str) -> tuple[str, ...]:
        return ("-e", "docker_engine_repository=docker", "-e", f"docker_engine_docker_repo_url={self.url}",
                "-e", f"docker_engine_docker_repo_key_url={self.key_url}",
                "-e", f"docker_engine_version={version}")  # fmt: skip

    def site(self, version: str, check: bool = True):
        return play(self.lab, "site.yml", *self.options(version), check=check)


@pytest.fixture(scope="session")
def repo_lab():
    reason = _vm_backend_unavailable()
    if reason:
        pytest.skip(f"this machine cannot run the VM backend: {reason}")
    lab = Lab(LAB_NAME, LAB_SUBNET)
    keep = os.environ.get("SWARMOPS_DOCKER_REPO_KEEP") == "1"
    start = time.monotonic()
    lab.cli("up", "--backend", "vm", "--subnet", LAB_SUBNET, "--managers", "1", "--workers", "1",
            timeout=1800)  # fmt: skip
    lab.refresh()
    print(f"\nlab up: {time.monotonic() - start:.0f} s")
    folder = lab.state_dir / "docker-repo"
    repo = None
    try:
        repo = aptrepo.build(folder)
        gateway = str(ipaddress.ip_network(LAB_SUBNET).network_address + 1)
        url = aptrepo.serve(repo, gateway)
        # The VMs' apt goes through the lab's proxy (apt-cacher-ng, which forwards port 80 only);
        # the repository on the bridge is reached directly, as a mirror on a host's own network.
        for host in MEMBERS:
            lab.ssh(host, f"echo 'Acquire::http::Proxy::{gateway} \"DIRECT\";' "
                          "> /etc/apt/apt.conf.d/02swarmops-lab-docker-repo")
        yield DockerRepoLab(lab, repo, url, aptrepo.key_url(gateway))
    finally:
        if not keep:
            if repo is not None:
                aptrepo.stop(repo)
            shutil.rmtree(folder, ignore_errors=True)
            lab.down()
