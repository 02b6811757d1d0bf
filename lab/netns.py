"""The namespace backend: each lab host is a set of Linux namespaces on this machine.

A host has its own network namespace (an address on the lab bridge, no default route), its
own UTS namespace (hostname) and its own mount namespace, in which the paths that make a
server itself are bind mounts of the host's folder under the lab's state directory:

    /etc/docker /etc/ssh /etc/iptables /etc/swarmops /etc/ufw /etc/hostname /etc/hosts /root/.ssh /run /tmp
    /var/lib/docker /var/lib/containerd /var/log
    /etc/init.d/docker, /etc/default/docker (the lab's copies, see below)

while /usr and the installed packages are the machine's. sshd and the engine run inside, the
engine started as a server without systemd starts it: `service docker start`.

Debian's /etc/init.d/docker fails here as shipped: it runs under `set -e` and raises the
open-files limit to 1048576, above this machine's hard limit of 20000. Each host sees a copy
whose `ulimit` lines may fail, and an /etc/default/docker that exports
DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1, so that a task uses the local probe image instead of
trying a registry first (a 40 s DNS time-out per task). Real hosts keep Debian's files.

Namespaces outlive their processes as bind mounts: /run/netns/LAB_HOST (by `ip netns`) and
/run/swarmops-lab/LAB/ns/HOST.{mnt,uts}. That is what lets `lab exec` enter a host, and what a
killed run leaves behind; `cleanup` finds all of it by scanning the machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

from . import engine, engines
from .backend import Backend, HostStatus, status_from_info
from .common import (
    check_range,
    ensure_key_and_bridge,
    parallel,
    remove_network_and_folders,
    wait_gone,
    wait_port,
)
from .config import Host
from .sh import LabError, ok, run

NETNS_DIR = Path("/run/netns")
# The kernel's ARP table limits: one table for every network namespace on the machine.
NEIGH_SYSCTL = Path("/proc/sys/net/ipv4/neigh/default")
NEIGH_KEYS = ("gc_thresh1", "gc_thresh2", "gc_thresh3")
KERNEL_NEIGH_DEFAULTS = (128, 512, 1024)

# Machine path -> name of the host's own copy (a folder unless listed in BOUND_FILES).
BOUND_DIRS = {
    "/etc/docker": "etc-docker",
    "/etc/ssh": "etc-ssh",
    "/etc/haproxy": "etc-haproxy",
    "/var/lib/haproxy": "var-lib-haproxy",
    "/etc/iptables": "etc-iptables",
    "/etc/swarmops": "etc-swarmops",
    "/etc/ufw": "etc-ufw",
    "/root/.ssh": "root-ssh",
    "/run": "run",
    "/tmp": "tmp",
    "/var/lib/docker": "var-lib-docker",
    "/var/lib/containerd": "var-lib-containerd",
    "/var/log": "var-log",
}
# Host folders that start as a copy of the machine's (configuration a package installed).
SEEDED_DIRS = {"/etc/ssh": ("ssh_host_*",), "/etc/haproxy": (), "/etc/ufw": ()}
BOUND_FILES = {
    "/etc/hostname": "hostname",
    "/etc/hosts": "hosts",
    "/etc/init.d/docker": "init.d-docker",
    "/etc/default/docker": "default-docker",
}
TOOLS = ("ip", "iptables", "unshare", "nsenter", "sshd", "ssh-keygen", "dockerd", "service")
SSHD_CONFIG = """# swarmops lab: this host's sshd listens only on its lab address.
ListenAddress {address}
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
MaxStartups 200
MaxSessions 200
"""


def _ns_inode(path: Path | str) -> tuple[int, int] | None:
    """A namespace's identity: (device, inode) of its file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class NetnsBackend(Backend):
    name = "netns"

    # Paths ------------------------------------------------------------------------------
    def _ns_file(self, host: Host, kind: str) -> Path:
        return self.lab.run_dir / "ns" / f"{host.name}.{kind}"

    def _netns_path(self, host: Host) -> Path:
        return NETNS_DIR / self.lab.netns(host)

    def _run(self, host: Host) -> Path:
        """The host's /run, seen from the machine."""
        return self.lab.host_dir(host) / "run"

    def _sock(self, host: Host) -> str:
        return str(self._run(host) / "docker.sock")

    def docker_host(self, host: Host) -> str:
        return f"unix://{self._sock(host)}"

    def _nsenter(self, host: Host) -> list[str]:
        return [
            "nsenter",
            f"--net={self._netns_path(host)}",
            f"--uts={self._ns_file(host, 'uts')}",
            f"--mount={self._ns_file(host, 'mnt')}",
            "--",
        ]

    def exec(self, host: Host, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run(self._nsenter(host) + argv, check=False, timeout=timeout)

    # Shared parts -----------------------------------------------------------------------
    def prepare(self) -> None:
        if os.geteuid() != 0:
            raise LabError("the lab needs root (it creates namespaces, a bridge and rules)")
        missing = [t for t in TOOLS if not shutil.which(t)]
        if missing:
            raise LabError(f"missing tools: {', '.join(missing)}; run `make deps` first")
        check_range(self.lab)
        lab = self.lab
        raised = raise_neighbour_limits(len(lab.hosts))
        if raised:
            print(raised)
        ensure_key_and_bridge(lab)
        self._write_engine_files()
        # Namespace files can only be bind-mounted on a mount that does not propagate.
        ns_dir = lab.run_dir / "ns"
        ns_dir.mkdir(parents=True, exist_ok=True)
        if not ok(["mountpoint", "-q", str(ns_dir)]):
            run(["mount", "--bind", str(ns_dir), str(ns_dir)])
            run(["mount", "--make-private", str(ns_dir)])
        for mountpoint in [*BOUND_DIRS, "/etc/init.d", "/etc/default"]:
            Path(mountpoint).mkdir(parents=True, exist_ok=True)
        for mountpoint in BOUND_FILES:
            Path(mountpoint).touch(exist_ok=True)

    def _write_engine_files(self) -> None:
        script = Path("/etc/init.d/docker")
        if not script.exists() or not Path("/usr/sbin/dockerd").exists():
            raise LabError("docker.io is not installed: run `make deps` first")
        text = script.read_text()
        # ulimit raises above the machine's hard limit fail under `set -e`: make them non-fatal.
        patched = re.sub(r"^(\s*ulimit [^\n]*)$", r"\1 2>/dev/null || true", text, flags=re.M)
        (self.lab.state_dir / "init.d-docker").write_text(patched)
        (self.lab.state_dir / "init.d-docker").chmod(0o755)
        (self.lab.state_dir / "default-docker").write_text(
            "# swarmops lab: use local images without trying a registry (none is reachable)\n"
            "export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1\n"
        )

    # Hosts ------------------------------------------------------------------------------
    def create(self, hosts: list[Host]) -> None:
        parallel(self._create_host, hosts)

    def _create_host(self, host: Host) -> None:
        lab = self.lab
        netns, veth = lab.netns(host), lab.veth(host)
        run(["ip", "netns", "add", netns])
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
        run(["ip", "link", "set", veth, "master", lab.bridge, "up"])
        run(["ip", "-n", netns, "addr", "add", f"{host.address}/24", "dev", "eth0"])
        run(["ip", "-n", netns, "link", "set", "eth0", "up"])
        run(["ip", "-n", netns, "link", "set", "lo", "up"])
        self._make_host_dir(host)
        self._make_namespaces(host)
        # sshd daemonises itself; the engine starts as on a server without systemd.
        run([*self._nsenter(host), "/usr/sbin/sshd"])
        run([*self._nsenter(host), "service", "docker", "start"])

    def _make_host_dir(self, host: Host) -> None:
        lab, hd = self.lab, self.lab.host_dir(host)
        if hd.exists():
            shutil.rmtree(hd)
        for name in BOUND_DIRS.values():
            (hd / name).mkdir(parents=True)
        (hd / "tmp").chmod(0o1777)
        for sub in ("sshd", "lock"):
            (hd / "run" / sub).mkdir(mode=0o755)
        (hd / "root-ssh").chmod(0o700)
        auth = hd / "root-ssh" / "authorized_keys"
        auth.write_text(Path(f"{lab.key_file}.pub").read_text())
        auth.chmod(0o600)
        for source, ignore in SEEDED_DIRS.items():
            if Path(source).is_dir():
                target = hd / BOUND_DIRS[source]
                shutil.rmtree(target)
                shutil.copytree(source, target, ignore=shutil.ignore_patterns(*ignore))
        # sshd: the machine's configuration with this host's own keys and address.
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"root@{host.name}",
                "-f",
                str(hd / "etc-ssh" / "ssh_host_ed25519_key"),
            ]
        )
        conf_d = hd / "etc-ssh" / "sshd_config.d"
        conf_d.mkdir(exist_ok=True)
        (conf_d / "swarmops-lab.conf").write_text(SSHD_CONFIG.format(address=host.address))
        (hd / "hostname").write_text(host.name + "\n")
        (hd / "hosts").write_text(
            f"127.0.0.1\tlocalhost\n{host.address}\t{host.name}\n"
            + "".join(f"{h.address}\t{h.name}\n" for h in lab.hosts if h.name != host.name)
        )
        shutil.copy2(lab.state_dir / "init.d-docker", hd / "init.d-docker")
        self._write_default_docker(host)

    def _write_default_docker(self, host: Host) -> None:
        """The host's /etc/default/docker: the lab's settings, then its engine: the machine's, or
        a newer one unpacked in the engine cache, which the init script then finds first on its
        PATH. Written in place: the file is bind-mounted in the host, so a rename would not show."""
        engine_lines = engines.engine_for(host.engine).default_file_lines()
        text = (self.lab.state_dir / "default-docker").read_text() + "".join(line + "\n" for line in engine_lines)
        with open(self.lab.host_dir(host) / "default-docker", "w") as fh:
            fh.write(text)

    def set_engine(self, host: Host) -> None:
        self._write_default_docker(host)

    def _make_namespaces(self, host: Host) -> None:
        hd = self.lab.host_dir(host)
        mnt, uts = self._ns_file(host, "mnt"), self._ns_file(host, "uts")
        mnt.touch()
        uts.touch()
        lines = [
            "set -e",
            # Drop this mount namespace's copies of other hosts' namespace files, so that
            # deleting a host's netns is not held up by another host's mount table.
            f"for m in $(findmnt -rn -o TARGET | grep -E '^({NETNS_DIR}|{self.lab.run_dir.parent})(/|$)' | sort -r); "
            'do umount -l "$m" 2>/dev/null || true; done',
        ]
        for target, name in {**BOUND_DIRS, **BOUND_FILES}.items():
            lines.append(f"mount --bind {shlex.quote(str(hd / name))} {shlex.quote(target)}")
        lines.append(f"hostname {shlex.quote(host.name)}")
        run(
            [
                "unshare",
                f"--mount={mnt}",
                f"--uts={uts}",
                "--propagation",
                "private",
                "--",
                "nsenter",
                f"--net={self._netns_path(host)}",
                "--",
                "sh",
                "-c",
                "\n".join(lines),
            ]
        )

    def wait_ready(self, hosts: list[Host], timeout: float = 60) -> None:
        def wait(host: Host) -> None:
            if not engine.wait_ping(self._sock(host), timeout):
                log = self.lab.host_dir(host) / "var-log" / "docker.log"
                tail = log.read_text()[-800:] if log.exists() else "(no log)"
                raise LabError(f"{host.name}: the engine did not answer in {timeout}s; docker.log:\n{tail}")
            if not wait_port(host.address, 22, timeout):
                raise LabError(f"{host.name}: sshd did not answer on {host.address}:22")

        parallel(wait, hosts)

    def import_images(self, hosts: list[Host], tars: dict[str, bytes]) -> int:
        from .probe_image import import_missing

        return sum(parallel(lambda h: import_missing(self._sock(h), tars), hosts))

    # State ------------------------------------------------------------------------------
    def _pid(self, host: Host, pidfile: str) -> int | None:
        """The pid in a pidfile of the host's /run, if that process lives in the host's netns."""
        try:
            pid = int((self._run(host) / pidfile).read_text().strip())
        except (OSError, ValueError):
            return None
        want = _ns_inode(self._netns_path(host))
        return pid if want is not None and _ns_inode(Path(f"/proc/{pid}/ns/net")) == want else None

    def healthy(self, host: Host) -> bool:
        return (
            self._netns_path(host).exists()
            and ok(["mountpoint", "-q", str(self._ns_file(host, "mnt"))])
            and self._pid(host, "sshd.pid") is not None
            and self._pid(host, "docker.pid") is not None
            and engine.ping(self._sock(host))
        )

    def status(self, host: Host) -> HostStatus:
        reachable = wait_port(host.address, 22, 1)
        data = engine.info(self._sock(host), timeout=3) if self._netns_path(host).exists() else None
        return status_from_info(host, reachable, data)

    # Faults -----------------------------------------------------------------------------
    def kill_engine(self, host: Host) -> None:
        pids = [self._pid(host, "docker.pid"), self._pid(host, "docker/containerd/containerd.pid")]
        for pid in filter(None, pids):
            os.kill(pid, signal.SIGKILL)
        if not any(pids):
            raise LabError(f"{host.name}: its engine is not running")
        wait_gone(pids, 10)
        # Lab hosts share the machine's PID space: a dead engine's pidfile soon names some other
        # process, and dockerd then refuses to start ("pid file found"). A crashed server's
        # reboot clears /run; here the pidfiles of the processes just killed go instead.
        for pidfile in ("docker.pid", "docker/containerd/containerd.pid"):
            (self._run(host) / pidfile).unlink(missing_ok=True)

    def restart_engine(self, host: Host) -> None:
        proc = self.exec(host, ["service", "docker", "restart"])
        if proc.returncode != 0:
            raise LabError(f"{host.name}: service docker restart failed: {proc.stdout}{proc.stderr}")
        self.wait_ready([host], timeout=60)

    # Removal ----------------------------------------------------------------------------
    def cleanup(self) -> list[str]:
        lab = self.lab
        removed: list[str] = []
        prefix = f"{lab.name}_"
        netns_names = [n for n in _netns_list() if n.startswith(prefix)]
        ns_files = sorted((lab.run_dir / "ns").glob("*.*")) if (lab.run_dir / "ns").exists() else []
        inodes = {i for i in (_ns_inode(NETNS_DIR / n) for n in netns_names) if i}
        inodes |= {i for i in (_ns_inode(f) for f in ns_files) if i}
        killed = _kill_namespace_processes(inodes)
        if killed:
            removed.append(f"{killed} processes")
        for path in _mounts_under(lab.run_dir):
            run(["umount", "-l", path], check=False)
        for name in netns_names:
            run(["ip", "netns", "del", name], check=False)
        if netns_names:
            removed.append(f"{len(netns_names)} network namespaces")
        return removed + remove_network_and_folders(lab, "host folders")


def neighbour_limits(hosts: int) -> tuple[int, int, int]:
    """ARP table limits (gc_thresh1, 2, 3) for a lab of this many hosts.

    Every lab host keeps a neighbour entry for each other host it talks to, and every engine
    adds entries for its bridges and overlay peers, all in the one table the kernel shares
    between namespaces: about 4 per pair of hosts. 50 hosts overflowed the defaults
    (128/512/1024: "neighbor table overflow", joins failing with "no route to host") and
    worked with 4096/8192/16384, which is what this gives for 50.
    """
    need = 4 * hosts * hosts
    if need <= KERNEL_NEIGH_DEFAULTS[2]:
        return KERNEL_NEIGH_DEFAULTS
    third = KERNEL_NEIGH_DEFAULTS[2]
    while third < need:
        third *= 2
    return (third // 4, third // 2, third)


def raise_neighbour_limits(hosts: int, sysctl_dir: Path = NEIGH_SYSCTL) -> str:
    """Raise the machine's ARP table limits to what `hosts` lab hosts need, never lower them;
    return what was raised ('' when nothing was)."""
    wanted = dict(zip(NEIGH_KEYS, neighbour_limits(hosts), strict=True))
    current = {key: int((sysctl_dir / key).read_text()) for key in NEIGH_KEYS}
    raise_ = {key: value for key, value in wanted.items() if value > current[key]}
    # The highest first, so that thresh1 <= thresh2 <= thresh3 holds at every step.
    for key in sorted(raise_, reverse=True):
        (sysctl_dir / key).write_text(f"{raise_[key]}\n")
    if not raise_:
        return ""
    before = "/".join(str(current[k]) for k in NEIGH_KEYS)
    after = "/".join(str(max(current[k], wanted[k])) for k in NEIGH_KEYS)
    return (
        f"raised net.ipv4.neigh.default.gc_thresh1/2/3 from {before} to {after} for {hosts} hosts "
        "(the ARP table every namespace on this machine shares; never lowered)"
    )


def _netns_list() -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _mounts_under(root: Path) -> list[str]:
    """Mount points at or below root in the machine's mount table, deepest first."""
    found = []
    prefix = str(root)
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            target = line.split()[4]
            if target == prefix or target.startswith(prefix + "/"):
                found.append(target)
    return sorted(set(found), key=len, reverse=True)


def _kill_namespace_processes(inodes: set[tuple[int, int]]) -> int:
    """SIGKILL every process in these namespaces and all their descendants (containers)."""
    if not inodes:
        return 0
    children: dict[int, list[int]] = {}
    members: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            ppid = int((entry / "stat").read_text().rsplit(") ", 1)[1].split()[1])
            if any(_ns_inode(entry / "ns" / k) in inodes for k in ("net", "mnt", "uts")):
                members.add(pid)
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(pid)
    todo, victims = list(members), set()
    while todo:
        pid = todo.pop()
        if pid in victims or pid == os.getpid():
            continue
        victims.add(pid)
        todo.extend(children.get(pid, []))
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_gone(victims, 10)
    return len(victims)
