"""The VM backend: each lab host is a Debian 12 VM under qemu, with its own kernel.

Why: the machine's kernel has no IPVS and no ESP, so the ingress routing mesh, service
virtual IPs and encrypted overlays cannot be shown in the namespace lab; and the engine role
never installs anything there. A VM has all of that, at the price of speed (software
emulation here: KVM is used only when a short boot test shows it runs a guest).

Each VM boots the cached base image of `lab image` (lab/vmimage.py) through a qcow2 overlay
of its own, with a tap device on the lab's bridge, and takes its address, hostname, the lab's
SSH public key and the apt proxy from the kernel command line. The lab runs that apt proxy
(apt-cacher-ng, from Debian's packages) on the bridge address: VMs, like namespace hosts,
have no route off the lab, and get Debian packages only through it (it also caches them
between runs). The VMs' engines are installed by the docker_engine role.

The lab reaches each VM over SSH; `docker_host` is a unix socket on the machine that an SSH
forward connects to the VM's /run/docker.sock, at the same path as a namespace host's
socket, so the lab's own Engine API calls and the tests' docker CLI work unchanged.

Every trace carries the lab's name: qemu runs with `-name swarmops-lab:LAB:HOST`, taps are
`BRIDGE-OCTET` like the veths, the proxy and forwards have the lab's folders on their command
lines; `cleanup` finds them all by scanning the machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from . import engine, vmimage
from .backend import Backend, HostStatus, status_from_info
from .common import (
    alive,
    check_range,
    cmdline,
    ensure_key_and_bridge,
    parallel,
    remove_network_and_folders,
    stop,
    wait_port,
)
from .config import Host
from .sh import LabError, run
from .vmimage import CACHE_ROOT

TOOLS = ("qemu-system-x86_64", "qemu-img", "ip", "iptables", "ssh", "ssh-keygen", "apt-cacher-ng")
QEMU = "qemu-system-x86_64"
MEMORY_MB = int(os.environ.get("SWARMOPS_LAB_VM_MEMORY", "1024"))
# qemu's TCG translation cache is 1 GiB per VM by default (shared/LAB.md): bound it.
TB_SIZE_MB = int(os.environ.get("SWARMOPS_LAB_VM_TB_SIZE", "256"))
# Not apt-cacher-ng's default 3142: under systemd, its Debian package starts a machine-wide
# instance listening there on every address.
PROXY_PORT = 3150
# How long `lab up` waits for a VM's sshd. About a minute on an idle machine under TCG; much
# longer when the machine's two cores are shared by many jobs.
BOOT_TIMEOUT = float(os.environ.get("SWARMOPS_LAB_VM_BOOT_TIMEOUT", "900"))
SSH_OPTIONS = [
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
]  # fmt: skip
KVM_CHECK = CACHE_ROOT / "kvm-check"


def unavailable() -> str:
    """Why this machine cannot run the VM backend, or "" when it can."""
    if os.geteuid() != 0:
        return "the VM lab needs root"
    missing = [t for t in (*TOOLS, "debootstrap", "mkfs.ext4") if not shutil.which(t)]
    if missing:
        return f"missing {', '.join(missing)} (make deps installs them)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun for the VMs' tap devices"
    return ""


def accelerator(kernel: Path) -> str:
    """`kvm` if a guest really runs under KVM here (a kernel prints its banner in time), else `tcg`.

    /dev/kvm can exist while a guest's vCPU hangs (nested virtualisation that does not run):
    never assume, boot. The verdict is kept per machine boot. SWARMOPS_LAB_ACCEL forces one.
    """
    forced = os.environ.get("SWARMOPS_LAB_ACCEL", "")
    if forced in ("kvm", "tcg"):
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    with contextlib.suppress(OSError):
        cached_boot, verdict = KVM_CHECK.read_text().split()
        if cached_boot == boot_id and verdict in ("kvm", "tcg"):
            return verdict
    argv = [QEMU, "-accel", "kvm", "-m", "256", "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-no-reboot", "-kernel", str(kernel),
            "-append", "console=ttyS0 panic=-1 root=/dev/nonexistent"]  # fmt: skip
    verdict = "tcg"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        if "Linux version" in proc.stdout:
            verdict = "kvm"
    except subprocess.TimeoutExpired:
        pass  # the vCPU hung: nested KVM that does not run
    KVM_CHECK.parent.mkdir(parents=True, exist_ok=True)
    KVM_CHECK.write_text(f"{boot_id} {verdict}\n")
    return verdict


def _processes() -> dict[int, tuple[str, list[str]]]:
    """pid -> (comm, argv) of every process on the machine."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                found[int(entry.name)] = ((entry / "comm").read_text().strip(), cmdline(int(entry.name)))
    return found


class VmBackend(Backend):
    name = "vm"

    # Paths and names ----------------------------------------------------------------------
    def _dir(self, host: Host) -> Path:
        return self.lab.host_dir(host)

    def _sock(self, host: Host) -> str:
        return str(self._dir(host) / "run" / "docker.sock")

    def docker_host(self, host: Host) -> str:
        return f"unix://{self._sock(host)}"

    def _vm_name(self, host: Host) -> str:
        return f"{self.lab.tag}:{host.name}"

    def _mac(self, host: Host) -> str:
        h = hashlib.sha256(self.lab.name.encode()).digest()
        return f"52:54:{h[0]:02x}:{h[1]:02x}:{h[2]:02x}:{host.octet:02x}"

    @property
    def proxy_url(self) -> str:
        return f"http://{self.lab.gateway}:{PROXY_PORT}"

    def _ssh(self, host: Host, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = ["ssh", "-i", str(self.lab.key_file), *SSH_OPTIONS, f"root@{host.address}", command]
        return run(argv, check=False, timeout=timeout)

    def exec(self, host: Host, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a command on the VM as root, over SSH (a VM has no namespace to enter)."""
        return self._ssh(host, shlex.join(argv), timeout)

    # Shared parts -------------------------------------------------------------------------
    def prepare(self) -> None:
        if os.geteuid() != 0:
            raise LabError("the lab needs root (it creates a bridge, taps, rules and VMs)")
        missing = [t for t in TOOLS if not shutil.which(t)]
        if missing:
            raise LabError(
                f"missing tools: {', '.join(missing)}; run `make deps` "
                "(apt-get install qemu-system-x86 qemu-utils debootstrap apt-cacher-ng)"
            )
        check_range(self.lab)
        lab = self.lab
        ensure_key_and_bridge(lab)
        lab.run_dir.mkdir(parents=True, exist_ok=True)
        self.image, built = vmimage.ensure(log=print)
        self.accel = accelerator(self.image.kernel)
        print(f"lab image: {self.image.folder.name} ({'built now' if built else 'cached'}); accelerator: {self.accel}")
        self._start_proxy()

    def _start_proxy(self) -> None:
        """apt-cacher-ng on the bridge address, the VMs' only way to Debian's packages."""
        lab = self.lab
        pidfile = lab.run_dir / "apt-proxy.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text())
            if alive(pid) and str(lab.run_dir) in " ".join(cmdline(pid)):
                return
        if wait_port(lab.gateway, PROXY_PORT, 0.5):
            raise LabError(
                f"something else listens on {lab.gateway}:{PROXY_PORT}: the lab runs its apt proxy there"
            )
        cache = CACHE_ROOT / "apt-cacher-ng"
        logs = lab.state_dir / "apt-proxy"
        cache.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        # A configuration of the lab's own: a plain caching proxy. Debian's (remapping
        # deb.debian.org to its mirror lists) answered "503 Host not found" on this machine.
        (logs / "acng.conf").write_text(
            f"CacheDir: {cache}\nLogDir: {logs}\nSupportDir: /usr/lib/apt-cacher-ng\n"
        )
        argv = [
            "apt-cacher-ng",
            "-c",
            str(logs),
            "ForeGround=1",
            f"BindAddress={lab.gateway}",
            f"Port={PROXY_PORT}",
            f"PidFile={pidfile}",
            f"SocketPath={lab.run_dir / 'apt-proxy.socket'}",
        ]
        with open(logs / "stdout.log", "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        pidfile.write_text(f"{proc.pid}\n")
        if not wait_port(lab.gateway, PROXY_PORT, 20) or proc.poll() is not None:
            raise LabError(f"the apt proxy did not listen on {lab.gateway}:{PROXY_PORT}; see {logs}")

    # Hosts --------------------------------------------------------------------------------
    def create(self, hosts: list[Host]) -> None:
        if not hasattr(self, "image"):
            self.prepare()
        parallel(self._boot, hosts)

    def _boot(self, host: Host) -> None:
        lab, hd = self.lab, self._dir(host)
        if hd.exists():
            shutil.rmtree(hd)
        (hd / "run").mkdir(parents=True)
        tap = lab.veth(host)
        if Path(f"/sys/class/net/{tap}").exists():
            run(["ip", "link", "del", tap])
        run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"])
        run(["ip", "link", "set", tap, "master", lab.bridge, "up"])
        overlay = hd / "disk.qcow2"
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(self.image.disk), str(overlay)])
        append = " ".join(
            [
                "console=ttyS0",
                "root=/dev/vda",
                "rw",
                "net.ifnames=0",
                "loglevel=4",
                # Spectre/Meltdown mitigations (page-table isolation above all) cost much more
                # under emulation than they protect in a throwaway lab VM.
                "mitigations=off",
                "systemd.show_status=1",
                f"swarmops.addr={host.address}/24",
                f"swarmops.hostname={host.name}",
                f"swarmops.key={vmimage.key_arg(Path(f'{lab.key_file}.pub'))}",
                f"swarmops.aptproxy={self.proxy_url}",
            ]
        )
        accel = "kvm" if self.accel == "kvm" else f"tcg,tb-size={TB_SIZE_MB}"
        argv = [
            QEMU,
            "-name", self._vm_name(host),
            "-accel", accel,
            "-m", str(MEMORY_MB),
            "-smp", "1",
            "-nodefaults", "-no-user-config",
            "-display", "none",
            "-serial", f"file:{hd / 'console.log'}",
            "-kernel", str(self.image.kernel),
            "-initrd", str(self.image.initrd),
            "-append", append,
            # The overlay is thrown away with the lab: no need to flush writes to disk.
            "-drive", f"file={overlay},format=qcow2,if=virtio,cache=unsafe",
            "-netdev", f"tap,id=lab,ifname={tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=lab,mac={self._mac(host)}",
            "-device", "virtio-rng-pci",
            "-pidfile", str(hd / "qemu.pid"),
            "-daemonize",
        ]  # fmt: skip
        run(argv, timeout=60)

    def wait_ready(self, hosts: list[Host], timeout: float = BOOT_TIMEOUT) -> None:
        def wait(host: Host) -> None:
            deadline = time.monotonic() + timeout
            while True:
                if self._qemu_pid(host) is None:
                    raise LabError(f"{host.name}: its VM exited; console: {self._console_tail(host)}")
                if wait_port(host.address, 22, 2) and self._ssh(host, "true", timeout=30).returncode == 0:
                    break
                if time.monotonic() >= deadline:
                    raise LabError(
                        f"{host.name}: no SSH on {host.address} after {timeout:.0f} s; "
                        f"console: {self._console_tail(host)}"
                    )
                time.sleep(2)
            self._ensure_forward(host)

        parallel(wait, hosts)

    def _console_tail(self, host: Host) -> str:
        log = self._dir(host) / "console.log"
        return log.read_text(errors="replace")[-800:] if log.exists() else "(no console log)"

    def _ensure_forward(self, host: Host) -> None:
        """An SSH forward from the host's socket path on the machine to the VM's engine socket."""
        sock = self._sock(host)
        pidfile = self._dir(host) / "forward.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text())
            if alive(pid) and f"{sock}:/run/docker.sock" in cmdline(pid) and Path(sock).exists():
                return
        Path(sock).unlink(missing_ok=True)
        argv = [
            "ssh", "-i", str(self.lab.key_file), *SSH_OPTIONS,
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6",
            "-o", "StreamLocalBindUnlink=yes", "-o", "ExitOnForwardFailure=yes",
            "-nNT", "-L", f"{sock}:/run/docker.sock", f"root@{host.address}",
        ]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        pidfile.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + 15
        while not Path(sock).exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def import_images(self, hosts: list[Host], tars: dict[str, bytes]) -> int:
        """Import missing probe images into engines that run. A VM without an engine yet gets
        them from the image's drop-in when the role installs and starts the engine."""
        from .probe_image import import_missing

        def one(host: Host) -> int:
            self._ensure_forward(host)
            return import_missing(self._sock(host), tars) if engine.ping(self._sock(host), 10) else 0

        return sum(parallel(one, hosts))

    # State --------------------------------------------------------------------------------
    def _qemu_pid(self, host: Host) -> int | None:
        try:
            pid = int((self._dir(host) / "qemu.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        argv = cmdline(pid)
        return pid if alive(pid) and self._vm_name(host) in argv else None

    def healthy(self, host: Host) -> bool:
        return (
            self._qemu_pid(host) is not None
            and Path(f"/sys/class/net/{self.lab.veth(host)}").exists()
            and wait_port(host.address, 22, 3)
        )

    def status(self, host: Host) -> HostStatus:
        if self._qemu_pid(host) is None:
            return HostStatus(host, False, False, "-")
        reachable = wait_port(host.address, 22, 2)
        if reachable:
            self._ensure_forward(host)
        data = engine.info(self._sock(host), timeout=10) if reachable else None
        return status_from_info(host, reachable, data)

    # Faults -------------------------------------------------------------------------------
    def kill_engine(self, host: Host) -> None:
        """Stop the engine under systemd (its socket too, or the next API call would start
        it again): the managers see the node Down, as after a crash."""
        proc = self._ssh(host, "systemctl is-active -q docker && systemctl stop docker.socket docker.service")
        if proc.returncode != 0:
            raise LabError(f"{host.name}: its engine is not running ({proc.stdout}{proc.stderr})".strip())

    def restart_engine(self, host: Host) -> None:
        proc = self._ssh(host, "systemctl restart docker.socket docker.service", timeout=180)
        if proc.returncode != 0:
            raise LabError(f"{host.name}: systemctl restart docker failed: {proc.stdout}{proc.stderr}")
        self._ensure_forward(host)
        if not engine.wait_ping(self._sock(host), 120):
            raise LabError(f"{host.name}: the engine did not answer within 120 s of its restart")

    # Removal ------------------------------------------------------------------------------
    def cleanup(self) -> list[str]:
        lab = self.lab
        removed: list[str] = []
        marks = (f"{lab.tag}:", f"{lab.state_dir}/", f"{lab.run_dir}/")
        vms, helpers = [], []
        for pid, (comm, argv) in _processes().items():
            if pid == os.getpid() or not any(m in a for a in argv for m in marks):
                continue
            if comm.startswith("qemu-system"):
                vms.append(pid)
            elif comm in ("ssh", "apt-cacher-ng"):
                helpers.append(pid)
        if vms:
            stop(vms)
            removed.append(f"{len(vms)} VMs")
        if helpers:
            stop(helpers, grace=3)
            removed.append(f"{len(helpers)} helper processes (apt proxy, SSH forwards)")
        return removed + remove_network_and_folders(lab, "host folders and disk overlays")
