"""A signed local apt repository shaped like Docker's, for proving the engine role's
Docker-repository path (docker_engine_repository: docker) on the VM lab, which cannot reach
download.docker.com.

The packages are Debian's own engines, fetched by lab/engines.py (docker.io, docker-cli and
containerd of trixie and unstable), repackaged (`dpkg-deb -R`, a new control file, `dpkg-deb
-b`) under Docker's names and version scheme:

    docker-ce, docker-ce-cli  5:26.1.5-1~debian.12~bookworm  from Debian trixie's docker.io / docker-cli
                              5:28.5.2-1~debian.12~bookworm  from Debian unstable's
    containerd.io             1.7.24-1                       from Debian trixie's containerd

with Docker's Conflicts/Replaces/Provides against Debian's docker.io, docker-cli and
containerd. Every binary needs at most glibc 2.34 (checked at build: Debian 12 has 2.36), so
the engines run on bookworm as they are. What does not: trixie's runc needs glibc 2.38, so
containerd.io does not bundle runc as Docker's does; it depends on Debian 12's runc (1.1.5),
which the VMs install from Debian through the lab's apt proxy. tini-static (docker-init) comes
from Debian 12's tini package, which ships it.

The layout is Docker's (`dists/bookworm/stable/binary-amd64/Packages`, the debs under
`dists/bookworm/pool/stable/amd64/`), with Release, InRelease and Release.gpg signed by a
throwaway ed25519 key generated for each build; the key is exported armored (for
/etc/apt/keyrings/docker.asc, as Docker publishes its own) and as a binary keyring. The
build goes to a folder the caller names (the test fixture uses the lab's state folder, so
`lab down` removes it) and `serve` publishes it with Python's http.server on the lab's
bridge address.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

from . import engines
from .common import alive, cmdline, wait_port
from .sh import LabError, run

CODENAME = "bookworm"
COMPONENT = "stable"
ARCH = "amd64"
# The newest glibc symbol version a binary may need to run on Debian 12 (glibc 2.36).
BOOKWORM_GLIBC = (2, 36)
# Next to the apt proxy's port (lab/vm.py).
PORT = 3151
# Below the served root, as download.docker.com/linux/debian is below its host.
REPO_PATH = "linux/debian"
KEY_NAME = "swarmops-lab-docker"
KEY_UID = "swarmops lab Docker-shaped apt repository <lab@swarmops.invalid>"
ENGINE_SERIES = ("26.1", "28.5")
CONTAINERD_SERIES = "26.1"


@dataclass(frozen=True)
class Repackage:
    """One package of the repository: which Debian package it is made from, and its new control."""

    name: str
    series: str
    source: str  # the Debian package
    source_version: str
    version: str
    # Debian package name -> its replacement in Depends/Recommends/Suggests (None: dropped).
    renames: dict[str, str | None] = field(default_factory=dict)
    provides: str = ""
    conflicts: str = ""
    replaces: str = ""


def upstream(debian_version: str) -> str:
    """'26.1.5+dfsg1-9+deb13u1+b1' -> '26.1.5' (the upstream release, without epoch or repack tags)."""
    version = debian_version.split(":", 1)[-1]
    match = re.match(r"\d+(?:\.\d+)+", version)
    if not match:
        raise LabError(f"cannot read an upstream release from version {debian_version!r}")
    return match.group(0)


def docker_version(debian_version: str) -> str:
    """Docker's own scheme for its engine packages: '5:26.1.5-1~debian.12~bookworm'."""
    return f"5:{upstream(debian_version)}-1~debian.12~{CODENAME}"


def containerd_version(debian_version: str) -> str:
    """Docker's scheme for containerd.io: '1.7.24-1'."""
    return f"{upstream(debian_version)}-1"


def parse_control(text: str) -> dict[str, str]:
    """A deb822 paragraph as an ordered dict; continuation lines stay in their field's value."""
    fields: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t":
            if not last:
                raise LabError(f"control: a continuation line before any field: {line!r}")
            fields[last] += "\n" + line
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise LabError(f"control: not a field: {line!r}")
        last = name.strip()
        fields[last] = value.strip()
    return fields


def render_control(fields: dict[str, str]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in fields.items() if value != "")


def rewrite_relations(relations: str, renames: dict[str, str | None]) -> str:
    """A Depends-style field with packages renamed: each alternative whose package is in
    renames is replaced (with its version constraint) by the new relation, or dropped when
    that is None; a group left with no alternative is dropped."""
    groups = []
    for group in filter(None, (g.strip() for g in relations.split(","))):
        alternatives = []
        for alternative in (a.strip() for a in group.split("|")):
            name = re.split(r"[\s(:\[]", alternative, maxsplit=1)[0]
            if name in renames:
                if renames[name] is not None:
                    alternatives.append(renames[name])
            else:
                alternatives.append(alternative)
        if alternatives:
            groups.append(" | ".join(alternatives))
    return ", ".join(dict.fromkeys(groups))


def repackaged_control(original: dict[str, str], spec: Repackage) -> dict[str, str]:
    """The control file of spec's package, from the Debian package's own."""
    fields = dict(original)
    fields["Package"] = spec.name
    fields["Version"] = spec.version
    for name in ("Depends", "Pre-Depends", "Recommends", "Suggests"):
        if name in fields:
            fields[name] = rewrite_relations(fields[name], spec.renames)
    # Debian's relations to Docker's packages (docker.io conflicts with docker-ce) go; Docker's
    # own to Debian's come instead.
    for name in ("Breaks", "Conflicts", "Replaces", "Provides"):
        fields.pop(name, None)
    fields.update({"Provides": spec.provides, "Conflicts": spec.conflicts, "Replaces": spec.replaces})
    fields["Description"] = (
        fields.get("Description", spec.name)
        + "\n .\n This is Debian's "
        + f"{spec.source} {spec.source_version} (Debian {engines.SUITES[spec.series]}), repackaged"
        + "\n for the swarmops lab's Docker-shaped apt repository (lab/aptrepo.py)."
    )
    return {name: value for name, value in fields.items() if value != ""}


def specs(versions: dict[str, dict[str, str]]) -> list[Repackage]:
    """What the repository holds, from {series: {Debian package: version}} of the fetched debs."""
    out: list[Repackage] = []
    for series in ENGINE_SERIES:
        have = versions[series]
        version = docker_version(have["docker.io"])
        out.append(Repackage(
            "docker-ce", series, "docker.io", have["docker.io"], version,
            renames={
                "containerd": f"containerd.io (>= {containerd_version(versions[CONTAINERD_SERIES]['containerd'])})",
                "runc": None,  # containerd.io brings it
                "tini-static": "tini (>= 0.19.0-1)",  # Debian 12's tini ships /usr/bin/tini-static
                "docker-cli": "docker-ce-cli",
                "needrestart": None,
            },
            conflicts="docker.io, docker-engine, docker-engine-cs", replaces="docker.io, docker-engine",
        ))  # fmt: skip
        out.append(Repackage(
            "docker-ce-cli", series, "docker-cli", have["docker-cli"], version,
            renames={"docker-buildx": None},  # not in Debian 12
            conflicts="docker-cli, podman-docker, docker.io (<< 26.1.4+dfsg1-7~)",
            replaces="docker-cli, docker.io (<< 26.1.4+dfsg1-7~), docker-ce (<< 5:0)",
        ))  # fmt: skip
    containerd = versions[CONTAINERD_SERIES]["containerd"]
    out.append(Repackage(
        "containerd.io", CONTAINERD_SERIES, "containerd", containerd, containerd_version(containerd),
        # Debian 12's runc 1.1.5 (trixie's needs glibc 2.38); the lab's namespace hosts run it
        # under this containerd too.
        renames={"runc": "runc (>= 1.1.5)"},
        provides="containerd", conflicts="containerd", replaces="containerd",
    ))  # fmt: skip
    return out


def max_glibc(objdump_text: str) -> tuple[int, ...] | None:
    """The newest GLIBC_x.y symbol version in `objdump -T` output (None: needs no glibc)."""
    found = [tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", objdump_text)]
    return max(found) if found else None


def deb_filename(name: str, version: str, arch: str = ARCH) -> str:
    """Debian's file name for a package: the epoch's colon is left out."""
    return f"{name}_{version.split(':', 1)[-1]}_{arch}.deb"


def packages_stanza(control: dict[str, str], filename: str, data: bytes) -> str:
    fields = dict(control)
    fields.update({
        "Filename": filename,
        "Size": str(len(data)),
        "MD5sum": hashlib.md5(data).hexdigest(),
        "SHA256": hashlib.sha256(data).hexdigest(),
    })  # fmt: skip
    return render_control(fields)


def release_text(indexes: dict[str, bytes], date: float) -> str:
    """dists/CODENAME/Release for the given index files (path below dists/CODENAME -> content)."""
    lines = [
        "Origin: swarmops lab",
        "Label: swarmops lab Docker-shaped repository",
        f"Suite: {CODENAME}",
        f"Codename: {CODENAME}",
        f"Date: {formatdate(date, usegmt=True)}",
        f"Architectures: {ARCH}",
        f"Components: {COMPONENT}",
        "Description: Debian's engines under Docker's package names, for the swarmops VM lab",
    ]
    for title, algo in (("MD5Sum", hashlib.md5), ("SHA256", hashlib.sha256)):
        lines.append(f"{title}:")
        for path, data in sorted(indexes.items()):
            lines.append(f" {algo(data).hexdigest()} {len(data):>16} {path}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Repo:
    root: Path  # what the HTTP server serves
    packages: dict[str, list[str]]  # name -> versions

    @property
    def repo_dir(self) -> Path:
        return self.root / REPO_PATH

    @property
    def armored_key(self) -> Path:
        return self.root / "keys" / f"{KEY_NAME}.asc"

    @property
    def binary_key(self) -> Path:
        return self.root / "keys" / f"{KEY_NAME}.gpg"


def _check_binaries(tree: Path, what: str) -> None:
    for folder in ("usr/bin", "usr/sbin"):
        for path in sorted((tree / folder).glob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            needed = max_glibc(run(["objdump", "-T", str(path)], check=False).stdout)
            if needed is not None and needed > BOOKWORM_GLIBC:
                raise LabError(f"{what}: /{folder}/{path.name} needs GLIBC_{'.'.join(map(str, needed))}, "
                               f"newer than Debian 12's {'.'.join(map(str, BOOKWORM_GLIBC))}")


def _repackage(spec: Repackage, deb: Path, work: Path, pool: Path) -> Path:
    tree = work / f"{spec.name}_{spec.series}"
    shutil.rmtree(tree, ignore_errors=True)
    run(["dpkg-deb", "-R", str(deb), str(tree)], timeout=300)
    _check_binaries(tree, f"{spec.source} {spec.source_version}")
    control = tree / "DEBIAN" / "control"
    control.write_text(render_control(repackaged_control(parse_control(control.read_text()), spec)))
    out = pool / deb_filename(spec.name, spec.version)
    # gzip -1: quick to build and to unpack under emulation; Debian 12's dpkg reads it.
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", str(tree), str(out)], timeout=600)
    shutil.rmtree(tree)
    return out


def _gpg(home: Path, *args: str, input: str | None = None) -> str:
    return run(["gpg", "--batch", "--quiet", "--homedir", str(home), *args], input=input, timeout=120).stdout


def build(dest: Path, log=print) -> Repo:
    """Build the repository into dest (replaced): packages, indexes, a new key, signatures."""
    started = time.monotonic()
    files: dict[str, dict[str, Path]] = {s: engines.debs(s, ("docker-cli",), log) for s in ENGINE_SERIES}
    versions = {s: {name: run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip() for name, deb in debs.items()}
                for s, debs in files.items()}  # fmt: skip
    shutil.rmtree(dest, ignore_errors=True)
    root, work = dest / "www", dest / "work"
    dists = root / REPO_PATH / "dists" / CODENAME
    pool = dists / "pool" / COMPONENT / ARCH
    for folder in (pool, dists / COMPONENT / f"binary-{ARCH}", root / "keys", work):
        folder.mkdir(parents=True)
    stanzas, built = [], {}
    for spec in specs(versions):
        deb = _repackage(spec, files[spec.series][spec.source], work, pool)
        data = deb.read_bytes()
        control = parse_control(run(["dpkg-deb", "-f", str(deb)]).stdout)
        stanzas.append(packages_stanza(control, str(deb.relative_to(root / REPO_PATH)), data))
        built.setdefault(spec.name, []).append(spec.version)
    packages = "\n".join(stanzas).encode()
    index = f"{COMPONENT}/binary-{ARCH}/Packages"
    indexes = {index: packages, f"{index}.gz": gzip.compress(packages, mtime=0)}
    for path, data in indexes.items():
        (dists / path).write_bytes(data)
    release = dists / "Release"
    release.write_text(release_text(indexes, time.time()))
    # A throwaway signing key of this build's own, kept out of the served folder.
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    _gpg(home, "--passphrase", "", "--quick-gen-key", KEY_UID, "ed25519", "sign", "30d")
    _gpg(home, "--clearsign", "--digest-algo", "SHA256", "-o", str(dists / "InRelease"), str(release))
    _gpg(home, "--armor", "--detach-sign", "--digest-algo", "SHA256", "-o", str(dists / "Release.gpg"), str(release))
    Path(root / "keys" / f"{KEY_NAME}.asc").write_text(_gpg(home, "--armor", "--export", KEY_UID))
    keyring = root / "keys" / f"{KEY_NAME}.gpg"
    _gpg(home, "--export", "-o", str(keyring), KEY_UID)
    # The signature must verify with the exported key alone, as apt's signed-by will.
    run(["gpgv", "--keyring", str(keyring), str(dists / "InRelease")])
    shutil.rmtree(work)
    repo = Repo(root, built)
    summary = ", ".join(f"{name} {' and '.join(v)}" for name, v in built.items())
    log(f"lab apt repository: {summary} in {root} in {time.monotonic() - started:.1f} s")
    return repo


def _pidfile(root: Path) -> Path:
    return root.parent / "http.pid"


def serve(repo: Repo, address: str, port: int = PORT) -> str:
    """Serve the repository on address:port (the lab's bridge address); returns the
    repository's URL (docker_engine_docker_repo_url). A server left by a killed run is stopped."""
    stop(repo)
    if wait_port(address, port, 0.5):
        raise LabError(f"something else listens on {address}:{port}: the lab serves its apt repository there")
    argv = [sys.executable, "-m", "http.server", "--bind", address, "--directory", str(repo.root), str(port)]
    with open(repo.root.parent / "http.log", "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    _pidfile(repo.root).write_text(f"{proc.pid}\n")
    if not wait_port(address, port, 20) or proc.poll() is not None:
        raise LabError(f"the apt repository server did not listen on {address}:{port}; see {repo.root.parent}")
    return url(address, port)


def url(address: str, port: int = PORT) -> str:
    return f"http://{address}:{port}/{REPO_PATH}"


def key_url(address: str, port: int = PORT) -> str:
    return f"http://{address}:{port}/keys/{KEY_NAME}.asc"


def stop(repo: Repo) -> None:
    """Stop the repository's HTTP server, if one runs (found by its pid file and command line)."""
    pidfile = _pidfile(repo.root)
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text())
        if alive(pid) and str(repo.root) in cmdline(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
