"""`lab image`: the Debian 12 base image the VM backend boots, built from Debian's packages only.

The recipe: `debootstrap --variant=minbase` of bookworm from the Debian mirror this machine's
apt already uses, systemd, sshd, iptables and python3 (with python3-apt, which Ansible's apt
module needs), a kernel and initrd installed in a chroot, then `mkfs.ext4 -d` (no loop devices).
No Docker engine: the `docker_engine` role installs docker.io from apt, through the apt proxy
the lab runs on the bridge address. What the image adds (GUEST_FILES) makes it a lab host:

- `swarmops-lab-guest.service` applies what the lab passes on the kernel command line
  (address, hostname, the lab's SSH public key, the apt proxy) before sshd starts, and makes
  the VM's own SSH host keys;
- a drop-in for docker.service that gives the engine DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
  (see shared/LAB.md) and, after each engine start, imports the lab's probe images from tars
  in the image, whether the engine was installed by the role or by hand.

The image is cached under /var/cache/swarmops-lab/images/ (outside the clone) in a folder
named by a hash of the recipe (RECIPE, the guest files, the probe tars), so it is rebuilt
exactly when one of those changes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import inspect
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import probe_image as probe
from .sh import LabError, cache_lock, run

CACHE_ROOT = Path(os.environ.get("SWARMOPS_LAB_CACHE", "/var/cache/swarmops-lab"))
IMAGES = CACHE_ROOT / "images"
PROBE_DIR = "/usr/local/lib/swarmops-lab/probe"

# Bump when the build steps below change in a way the other inputs do not show.
RECIPE = {
    "version": 3,
    "suite": "bookworm",
    "variant": "minbase",
    "packages": [
        "systemd-sysv",
        "udev",
        "dbus",
        "iproute2",
        "iputils-ping",
        "openssh-server",
        "iptables",
        "kmod",
        "procps",
        "python3",
        "python3-apt",
        "curl",
        "ca-certificates",
    ],
    "kernel": ["linux-image-amd64", "initramfs-tools"],
    "disk_size": "8G",
}

GUEST_SETUP = r"""#!/bin/sh
# swarmops lab guest setup: apply what the lab passed on the kernel command line.
set -u
arg() { sed -n "s/.*\bswarmops\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
addr=$(arg addr); name=$(arg hostname); key=$(arg key); proxy=$(arg aptproxy)
if [ -n "$name" ]; then
    echo "$name" > /etc/hostname
    hostname "$name"
    printf '127.0.0.1\tlocalhost\n%s\t%s\n' "${addr%/*}" "$name" > /etc/hosts
fi
ip link set lo up
if [ -n "$addr" ]; then
    for i in $(seq 50); do [ -e /sys/class/net/eth0 ] && break; sleep 0.2; done
    ip link set eth0 up
    ip addr replace "$addr" dev eth0
fi
if [ -n "$key" ]; then
    install -d -m 700 /root/.ssh
    echo "$key" | base64 -d > /root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
fi
if [ -n "$proxy" ]; then
    echo "Acquire::http::Proxy \"$proxy\";" > /etc/apt/apt.conf.d/01swarmops-lab-proxy
fi
# Each VM its own host key (the image has none); ed25519 only: RSA key generation takes
# minutes under software emulation.
[ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
exit 0
"""

GUEST_UNIT = """[Unit]
Description=swarmops lab: address, hostname, SSH key and apt proxy from the kernel command line
DefaultDependencies=no
Wants=sys-subsystem-net-devices-eth0.device
After=local-fs.target sys-subsystem-net-devices-eth0.device
Before=network.target ssh.service docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/swarmops-lab-guest

[Install]
WantedBy=multi-user.target
"""

DOCKER_DROPIN = f"""# swarmops lab: use local images without trying a registry (none is reachable from
# the lab, and each attempt is a DNS time-out of about 40 s per task), and import the lab's
# probe images once the engine answers.
[Service]
Environment=DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
ExecStartPost=-/usr/local/sbin/swarmops-lab-probes {PROBE_DIR}
"""

PROBE_IMPORT = """#!/bin/sh
# swarmops lab: import each probe image the engine does not have yet (no registry here).
dir=$1
for tar in "$dir"/*.tar; do
    tag=$(basename "$tar" .tar)
    docker image inspect "swarmops/probe:$tag" >/dev/null 2>&1 && continue
    cmd=/bin/probe
    [ "$tag" = broken ] && cmd=/bin/probe-broken
    docker import -c "CMD [\\"$cmd\\"]" -c 'EXPOSE 80' -c "LABEL org.swarmops.probe=$tag" \\
        "$tar" "swarmops/probe:$tag" >/dev/null
done
exit 0
"""

SSHD_CONFIG = """# swarmops lab VM
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
MaxStartups 100
MaxSessions 100
"""

DPKG_CONFIG = """# swarmops lab VM: fast package installs on a throwaway machine
force-unsafe-io
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/info/*
"""

# Path in the image -> (content, mode).
GUEST_FILES: dict[str, tuple[str, int]] = {
    "/usr/local/sbin/swarmops-lab-guest": (GUEST_SETUP, 0o755),
    "/etc/systemd/system/swarmops-lab-guest.service": (GUEST_UNIT, 0o644),
    "/etc/systemd/system/docker.service.d/swarmops-lab.conf": (DOCKER_DROPIN, 0o644),
    "/usr/local/sbin/swarmops-lab-probes": (PROBE_IMPORT, 0o755),
    "/etc/ssh/sshd_config.d/swarmops-lab.conf": (SSHD_CONFIG, 0o644),
    # No DNS in the lab (no route off it): an empty resolver fails at once instead of timing out.
    "/etc/resolv.conf": ("# swarmops lab: no DNS\n", 0o644),
    "/etc/fstab": ("/dev/vda / ext4 rw,relatime 0 1\n", 0o644),
    # A small initrd with just what finds the root disk: decompressing Debian's default one
    # (every module) is a large part of the boot under software emulation.
    "/etc/initramfs-tools/conf.d/swarmops-lab.conf": ("MODULES=list\nCOMPRESS=gzip\n", 0o644),
    "/etc/initramfs-tools/modules": ("virtio_pci\nvirtio_blk\next4\n", 0o644),
    # Installing the engine from apt is the slowest step of a VM run under software emulation:
    # a throwaway lab VM needs neither dpkg's fsyncs nor manuals and translations.
    "/etc/dpkg/dpkg.cfg.d/swarmops-lab": (DPKG_CONFIG, 0o644),
}


# Units a lab VM does without: timers that would run apt or disk scans in the middle of a
# test (and hold dpkg's lock while the engine role installs), a getty on a screen it has not.
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "getty@tty1.service",
    # Every SSH login waits for logind (pam_systemd) while it starts, which took minutes on a
    # busy machine; a lab VM has no user sessions to manage.
    "systemd-logind.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
)


@dataclass
class BaseImage:
    folder: Path

    @property
    def disk(self) -> Path:
        return self.folder / "disk.raw"

    @property
    def kernel(self) -> Path:
        return self.folder / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.folder / "initrd.img"

    def exists(self) -> bool:
        return all(p.exists() for p in (self.disk, self.kernel, self.initrd, self.folder / "recipe.json"))


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    candidates = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in candidates:
        if not path.is_file() or not path.name.endswith((".list", ".sources")):
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            urls = words[1:] if words[:1] == ["URIs:"] else [w for w in words[1:3] if w.startswith("http")]
            if words[:1] not in (["URIs:"], ["deb"]):
                continue
            for url in urls:
                if url.startswith("http") and url.rstrip("/").endswith("/debian"):
                    return url.rstrip("/")
    return "http://deb.debian.org/debian"


def packages_recipe() -> dict:
    """What the expensive stage (debootstrap, kernel) is made from."""
    return {**RECIPE, "mirror": debian_mirror()}


def recipe() -> dict:
    """Everything the image is made from; its hash names the cached image."""
    tars = probe.build_all()
    return {
        **packages_recipe(),
        "files": {p: [hashlib.sha256(c.encode()).hexdigest(), m] for p, (c, m) in GUEST_FILES.items()},
        "masked": list(MASKED_UNITS),
        # The second stage's own steps: a change to them is a change of the recipe too.
        "steps": hashlib.sha256(inspect.getsource(build).encode()).hexdigest(),
        "probe": {t: hashlib.sha256(b).hexdigest() for t, b in tars.items()},
    }


def recipe_hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def current() -> BaseImage:
    return BaseImage(IMAGES / f"debian12-{recipe_hash(recipe())}")


def packages_root() -> Path:
    """The cached root folder of the packages stage, shared by images that differ only in the
    lab's own files (so changing a guest script costs seconds, not a debootstrap)."""
    return CACHE_ROOT / "roots" / f"debian12-{recipe_hash(packages_recipe())}"


def ensure(log=print, rebuild: bool = False) -> tuple[BaseImage, bool]:
    """The current base image, built if missing (or if rebuild); returns (image, built now)."""
    img = current()
    if img.exists() and not rebuild:
        return img, False
    with cache_lock(IMAGES):
        if img.exists() and not rebuild:  # another run built it while this one waited
            return img, False
        build(img, log, rebuild)
    return img, True


def _build_script(root: Path, mirror: str) -> str:
    suite = RECIPE["suite"]
    include = ",".join(RECIPE["packages"])
    kernel = " ".join(RECIPE["kernel"])
    security = mirror.rsplit("/", 1)[0] + "/debian-security"
    sources = (
        f"deb {mirror} {suite} main\\n"
        f"deb {mirror} {suite}-updates main\\n"
        f"deb {security} {suite}-security main\\n"
    )
    # Runs in a mount namespace of its own: the chroot's /proc, /sys and /dev mounts vanish
    # with it, even if the build is killed.
    return f"""set -eu
debootstrap --variant={RECIPE['variant']} --include={include} {suite} {root} {mirror}
printf '{sources}' > {root}/etc/apt/sources.list
mount -t proc proc {root}/proc
mount -t sysfs sys {root}/sys
mount --rbind /dev {root}/dev
export DEBIAN_FRONTEND=noninteractive
chroot {root} apt-get update -q
chroot {root} apt-get install -y -q --no-install-recommends {kernel}
chroot {root} apt-get clean
chroot {root} passwd -d root
umount -l {root}/dev {root}/sys {root}/proc
"""


def _build_packages(log) -> Path:
    """Stage 1, cached: debootstrap and a kernel in a chroot."""
    done = packages_root()
    if (done / "boot").is_dir() and any((done / "boot").glob("vmlinuz-*")):
        return done
    for tool in ("debootstrap", "mkfs.ext4", "unshare", "chroot"):
        if not shutil.which(tool):
            raise LabError(f"{tool} is missing: run `make deps` (apt-get install debootstrap e2fsprogs)")
    work = done.with_name(done.name + ".building")
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror()
    started = time.monotonic()
    log(f"lab image: debootstrap {RECIPE['suite']} from {mirror}, then a kernel (a few minutes)")
    run(["unshare", "--mount", "--propagation", "private", "sh", "-c", _build_script(work, mirror)], timeout=1800)
    shutil.rmtree(done, ignore_errors=True)
    work.rename(done)
    log(f"lab image: packages stage in {time.monotonic() - started:.0f} s")
    return done


def build(img: BaseImage, log=print, rebuild: bool = False) -> None:
    started = time.monotonic()
    if rebuild:
        shutil.rmtree(packages_root(), ignore_errors=True)
    packages = _build_packages(log)
    work = img.folder.with_name(img.folder.name + ".building")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    root = work / "root"
    run(["cp", "-a", str(packages), str(root)], timeout=600)
    for path, (content, mode) in GUEST_FILES.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_text(content)
        target.chmod(mode)
    probe_dir = root / PROBE_DIR.lstrip("/")
    probe_dir.mkdir(parents=True, exist_ok=True)
    for tag, tar in probe.build_all().items():
        (probe_dir / f"{tag}.tar").write_bytes(tar)
    for unit in MASKED_UNITS:
        mask = root / "etc/systemd/system" / unit
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "swarmops-lab-guest.service"
    if not link.is_symlink():
        link.symlink_to("/etc/systemd/system/swarmops-lab-guest.service")
    # Bare: no host keys (each VM makes its own), no package lists (the first apt run
    # fetches current ones through the proxy), no machine id (systemd makes one per VM).
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    for lists in (root / "var/lib/apt/lists").glob("*"):
        if lists.is_file():
            lists.unlink()
    for cache in (root / "var/cache/apt").glob("*.bin"):
        cache.unlink()
    # Ansible's apt module (cache_valid_time) judges the lists by this folder's mtime when
    # apt's periodic stamp is missing: make them look old so that the first run updates them.
    (root / "var/lib/apt/periodic/update-success-stamp").unlink(missing_ok=True)
    os.utime(root / "var/lib/apt/lists", (0, 0))
    (root / "etc/machine-id").write_text("")
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    (root / "etc/hostname").write_text("debian\n")
    default = root / "etc/systemd/system/default.target"
    default.unlink(missing_ok=True)
    default.symlink_to("/lib/systemd/system/multi-user.target")
    script = f"mount -t proc proc {root}/proc && chroot {root} update-initramfs -u -k all"
    run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], timeout=600)
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    initrds = sorted((root / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError(f"the image has no kernel or initrd in {root / 'boot'}")
    shutil.copy2(kernels[-1], work / "vmlinuz")
    shutil.copy2(initrds[-1], work / "initrd.img")
    run(["mkfs.ext4", "-q", "-F", "-L", "swarmops-lab", "-d", str(root), str(work / "disk.raw"), RECIPE["disk_size"]],
        timeout=600)
    shutil.rmtree(root)
    (work / "recipe.json").write_text(json.dumps(recipe(), indent=2, sort_keys=True) + "\n")
    if img.folder.exists():
        shutil.rmtree(img.folder)
    work.rename(img.folder)
    log(f"lab image: built {img.folder} in {time.monotonic() - started:.0f} s")


def prune(keep: BaseImage) -> list[str]:
    """Remove cached images of older recipes, unless a running VM still uses one."""
    removed = []
    for folder in IMAGES.glob("debian12-*"):
        if folder == keep.folder or folder.name.endswith(".building"):
            continue
        busy = False
        for proc in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):
                if str(folder).encode() in proc.read_bytes():
                    busy = True
                    break
        if not busy:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def key_arg(pubkey_file: Path) -> str:
    """The lab's public key as one kernel command line word."""
    return base64.b64encode(pubkey_file.read_bytes().strip()).decode()
