"""Docker engines of several versions for lab hosts, from Debian's own archive.

A version is named by its series and the Debian suite that ships it:

    20.10  bookworm  the machine's own docker.io (Debian 12): nothing to fetch
    26.1   trixie    Debian 13's docker.io and containerd
    28.5   unstable  the newest Debian ships (unstable moves: the exact version is printed)

A newer engine is fetched once with apt from a sources list and state folders of its own, so
the machine's package state is never touched, unpacked with `dpkg-deb -x` and cached under
/var/cache/swarmops-lab/engines/SERIES/ (beside the VM image), with `engine.json` naming the
exact package versions. The machine's runc (1.1.5) runs containers for every engine: trixie's
needs a newer glibc than Debian 12 has. A lab host on such an engine puts ROOT/usr/sbin and
ROOT/usr/bin first on the init script's PATH (its /etc/default/docker), so `service docker
start` starts that dockerd and dockerd its own containerd; roles keep managing the engine
with ansible.builtin.service, as on real servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .sh import LabError, cache_lock, run
from .vmimage import CACHE_ROOT, debian_mirror

ENGINES_DIR = CACHE_ROOT / "engines"
# Series -> the Debian suite that ships it. The first is the machine's own engine.
SUITES: dict[str, str] = {"20.10": "bookworm", "26.1": "trixie", "28.5": "unstable"}
DEFAULT = "20.10"
PACKAGES = ("docker.io", "containerd")


@dataclass(frozen=True)
class Engine:
    series: str
    suite: str
    root: Path | None  # None: the machine's own engine under /usr
    versions: dict[str, str]  # package -> exact Debian version

    @property
    def version(self) -> str:
        return self.versions.get("docker.io", "?")

    def describe(self) -> str:
        containerd = self.versions.get("containerd", "?")
        return f"{self.series} ({self.suite}: docker.io {self.version}, containerd {containerd})"

    def default_file_lines(self) -> list[str]:
        """What the host's /etc/default/docker adds so that its init script starts this engine."""
        if self.root is None:
            return []
        sbin, bin_ = self.root / "usr" / "sbin", self.root / "usr" / "bin"
        return [
            f"# swarmops lab: Docker {self.version} from Debian {self.suite}, unpacked in {self.root}",
            f"export PATH={sbin}:{bin_}:$PATH",
            f"DOCKERD={sbin / 'dockerd'}",
        ]


def resolve(name: str) -> str:
    """A series from a series or suite name ('26.1', 'trixie', 'newest'); refused with the choices."""
    if name in SUITES:
        return name
    for series, suite in SUITES.items():
        if name == suite:
            return series
    if name in ("newest", "latest"):
        return list(SUITES)[-1]
    choices = ", ".join(f"{s} ({suite})" for s, suite in SUITES.items())
    raise LabError(f"engine {name!r}: allowed are {choices}, or 'newest'")


def series_of(version: str) -> str:
    """A series from a series, a suite, or an exact Debian version of docker.io that the cache
    (or the machine) holds, as upgrade-engine.yml's upgrade_engine_version names it."""
    with contextlib.suppress(LabError):
        return resolve(version)
    for series in SUITES:
        if version.startswith(series + "."):
            engine = ensure(series)
            if engine.version != version:
                raise LabError(f"engine {version}: the lab has docker.io {engine.version} for {series} "
                               f"(Debian {engine.suite}), not {version}")
            return series
    return resolve(version)  # refused, naming the choices


def parse_engines(spec: str, hosts: list[str]) -> dict[str, str]:
    """`manager2=26.1,worker1=28.5` -> {host: series}; unknown hosts and versions are refused."""
    chosen: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        host, sep, name = item.partition("=")
        if not sep or not host or not name:
            raise LabError(f"--engines {item!r}: write HOST=VERSION, e.g. manager2=26.1")
        if host not in hosts:
            raise LabError(f"--engines names {host!r}, which is not a host of this lab: {', '.join(hosts)}")
        chosen[host] = resolve(name)
    return chosen


def machine_engine() -> Engine:
    versions = {}
    for package in PACKAGES:
        proc = run(["dpkg-query", "-W", "-f=${Version}", package], check=False)
        versions[package] = proc.stdout.strip() if proc.returncode == 0 else "?"
    return Engine(DEFAULT, SUITES[DEFAULT], None, versions)


def cached(series: str) -> Engine | None:
    meta = ENGINES_DIR / series / "engine.json"
    if series == DEFAULT:
        return machine_engine()
    if not meta.exists():
        return None
    data = json.loads(meta.read_text())
    return Engine(series, data["suite"], ENGINES_DIR / series / "root", data["versions"])


def ensure(series: str, log=print) -> Engine:
    """The engine of this series, fetched and unpacked on first use; LabError says why not."""
    found = cached(series)
    if found is not None:
        return found
    with cache_lock(ENGINES_DIR):
        found = cached(series)
        if found is None:
            found = _fetch(series, log)
    return found


def _fetch(series: str, log) -> Engine:
    suite, mirror = SUITES[series], debian_mirror()
    final = ENGINES_DIR / series
    work = ENGINES_DIR / f".{series}.partial"
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("debs", "root"):
        (work / sub).mkdir(parents=True)
    started = time.monotonic()
    log(f"lab engines: fetching Docker {series} (docker.io, containerd) from Debian {suite} at {mirror}")
    _download(series, work, work / "debs", PACKAGES)
    versions = {}
    for deb in sorted((work / "debs").glob("*.deb")):
        fields = run(["dpkg-deb", "-f", str(deb), "Package", "Version"]).stdout
        meta = dict(line.split(": ", 1) for line in fields.splitlines() if ": " in line)
        versions[meta["Package"]] = meta["Version"]
        run(["dpkg-deb", "-x", str(deb), str(work / "root")])
    if not versions.get("docker.io", "").startswith(series + "."):
        raise LabError(
            f"Debian {suite} now ships docker.io {versions.get('docker.io')}, not {series}: "
            "update lab/engines.py SUITES"
        )
    # The engine must run on this machine's glibc (trixie's runc does not: the machine's is used).
    check = run([str(work / "root" / "usr" / "sbin" / "dockerd"), "--version"], check=False)
    if check.returncode != 0:
        raise LabError(f"engine {series} from {suite} does not run here: {check.stderr.strip()[-400:]}")
    shutil.rmtree(work / "lists")
    shutil.rmtree(work / "cache")
    (work / "engine.json").write_text(
        json.dumps({"series": series, "suite": suite, "mirror": mirror, "versions": versions}, indent=2) + "\n"
    )
    shutil.rmtree(final, ignore_errors=True)
    os.replace(work, final)
    engine = cached(series)
    assert engine is not None
    log(f"lab engines: Docker {engine.describe()} cached in {final} in {time.monotonic() - started:.1f} s")
    return engine


def _download(series: str, work: Path, dest: Path, packages: tuple[str, ...]) -> None:
    """`apt-get download` of packages from the series' suite into dest, with a sources list
    and state folders in work of the fetch's own: the machine's apt state is untouched."""
    suite, mirror = SUITES[series], debian_mirror()
    for sub in ("lists/partial", "cache/archives/partial"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    sources = work / "sources.list"
    sources.write_text(f"deb {mirror} {suite} main\n")
    apt = [
        "apt-get", "-q",
        "-o", f"Dir::Etc::sourcelist={sources}",
        "-o", "Dir::Etc::sourceparts=/dev/null",
        "-o", f"Dir::State::Lists={work / 'lists'}",
        "-o", f"Dir::Cache={work / 'cache'}",
        "-o", "APT::Sandbox::User=root",
    ]  # fmt: skip
    proc = run([*apt, "update"], check=False, timeout=600)
    if proc.returncode != 0 or "Err:" in proc.stdout:
        raise LabError(f"cannot fetch engine {series}: apt-get update of {suite} failed: "
                       f"{(proc.stderr or proc.stdout).strip()[-600:]}")
    # apt-get download writes into its working folder.
    proc = subprocess.run([*apt, "download", *packages], cwd=dest, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise LabError(f"cannot fetch engine {series}: apt-get download failed: {proc.stderr.strip()[-600:]}")


def debs(series: str, packages: tuple[str, ...] = (), log=print) -> dict[str, Path]:
    """The .deb files of a fetched series (docker.io, containerd), fetched with it by `ensure`,
    plus other packages of the same suite (e.g. docker-cli, which newer Debian ships apart from
    docker.io), fetched once into SERIES/extra-debs beside them. Package name -> file."""
    if series == DEFAULT:
        raise LabError(f"engine {series} is the machine's own: it has no fetched packages")
    engine = ensure(series, log)
    assert engine.root is not None
    folder = engine.root.parent

    def found() -> dict[str, Path]:
        files = sorted((folder / "debs").glob("*.deb")) + sorted((folder / "extra-debs").glob("*.deb"))
        return {deb.name.split("_", 1)[0]: deb for deb in files}

    missing = tuple(p for p in packages if p not in found())
    if missing:
        with cache_lock(ENGINES_DIR):
            missing = tuple(p for p in packages if p not in found())
            if missing:
                log(f"lab engines: fetching {', '.join(missing)} from Debian {engine.suite}")
                work = folder / ".extra.partial"
                shutil.rmtree(work, ignore_errors=True)
                (work / "debs").mkdir(parents=True)
                _download(series, work, work / "debs", missing)
                (folder / "extra-debs").mkdir(exist_ok=True)
                for deb in (work / "debs").glob("*.deb"):
                    os.replace(deb, folder / "extra-debs" / deb.name)
                shutil.rmtree(work)
    return found()


def unavailable(series: str) -> str:
    """Why engine `series` cannot be had here ('' when it can): fetched on demand."""
    try:
        ensure(series, log=lambda _msg: None)
    except LabError as exc:
        return str(exc)
    return ""


def engine_for(series: str) -> Engine:
    engine = cached(series)
    if engine is None:
        raise LabError(f"engine {series} is not fetched yet")
    return engine


def dockerd_version(engine: Engine) -> str:
    """`dockerd --version` of this engine's binary, as a sanity check of what hosts run."""
    binary = (engine.root or Path("/")) / "usr" / "sbin" / "dockerd"
    return run([str(binary), "--version"], check=False).stdout.strip()
