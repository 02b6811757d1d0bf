"""`python -m lab VERB`: the local lab of real swarm hosts on this machine.

    up [--managers 3] [--workers 2] [--lb 0] [--outsiders 0] [--backend netns|vm]
       [--engine 20.10|26.1|28.5] [--engines HOST=VERSION,...]  create (or keep) the lab
    down                                                        remove every trace of it
    status [--json]                                             host, address, engine, swarm
    ssh HOST [CMD...]                                           a shell on a lab host
    kill HOST... | restart HOST...                              crash / restart engines
    partition HOST... | heal HOST...                            cut / restore their network
    add manager|worker|lb|outsider [--engine VERSION]           one more host
    inventory [--list]                                          the inventory as JSON
    image [--rebuild]                                           the VM backend's base image
    engines [SERIES...]                                         fetch (or find cached) engines
    set-engine HOST VERSION                                     swap a host's engine binaries
                                                                (at its next engine restart)

Engines (namespace backend): every host runs the machine's Docker 20.10 (Debian 12) unless
`--engine` names another series for all hosts, or `--engines manager2=26.1,worker1=28.5` for
some; a series is named by its number or its Debian suite (bookworm, trixie, unstable or
`newest`), fetched once from Debian's archive and cached (lab/engines.py).

A lab remembers its backend (netns: namespaces on this machine; vm: qemu VMs with their own
kernel, see lab/vm.py), so later verbs need not repeat `--backend`.

`--name` picks a lab (default `swarmops`, whose inventory is inventories/lab/hosts.yml);
several labs can run side by side on distinct `--subnet`s.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator

from . import engines, inventory, probe_image
from .backend import BACKENDS, Backend, backend_for
from .config import DEFAULT_NAME, DEFAULT_SUBNET, KINDS, STATE_ROOT, Host, LabConfig
from .sh import LabError


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """One lab command at a time per lab."""
    STATE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(STATE_ROOT / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _counts(args: argparse.Namespace) -> dict[str, int]:
    return {"manager": args.managers, "worker": args.workers, "lb": args.lb, "outsider": args.outsiders}


def _shape(lab: LabConfig) -> tuple:
    return (lab.subnet, lab.bridge, lab.backend, sorted((h.name, h.engine) for h in lab.hosts))


def _with_engines(lab: LabConfig, hosts: list[Host], default: str, spec: str) -> list[Host]:
    """Each host with its engine series (`--engine` for all, `--engines` per host), each one
    fetched if it is not cached yet; prints the exact versions used."""
    everyone = engines.resolve(default)
    chosen = engines.parse_engines(spec, [h.name for h in hosts])
    hosts = [dataclasses.replace(h, engine=chosen.get(h.name, everyone)) for h in hosts]
    wanted = sorted({h.engine for h in hosts})
    if lab.backend != "netns" and wanted != [engines.DEFAULT]:
        raise LabError(f"--engine/--engines: the {lab.backend} backend installs the engine with apt; "
                       "engine versions are for the netns backend")
    for series in wanted:
        engine = engines.ensure(series)
        names = [h.name for h in hosts if h.engine == series]
        print(f"engine {engine.describe()}: {', '.join(names)}")
    return hosts


def _describe(lab: LabConfig) -> str:
    counts = {k: sum(1 for h in lab.hosts if h.kind == k) for k in KINDS}
    return ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in counts.items() if n)


def _engines_of(lab: LabConfig) -> str:
    return ", ".join(f"{h.name} {h.engine}" for h in lab.hosts)


def _loaded(args: argparse.Namespace) -> tuple[LabConfig, Backend]:
    lab = LabConfig.load(args.name)
    if lab is None:
        raise LabError(f"lab {args.name!r} is not up (no {STATE_ROOT / args.name / 'lab.json'})")
    return lab, backend_for(lab)


def cmd_up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    existing = LabConfig.load(args.name)
    lab = LabConfig(
        name=args.name, subnet=args.subnet, bridge=args.bridge, backend=args.backend, inventory=args.inventory
    )
    lab.hosts = lab.plan_hosts(_counts(args))
    if not any(h.kind in ("manager", "worker") for h in lab.hosts):
        raise LabError("a lab needs at least one manager or worker")
    lab.hosts = _with_engines(lab, lab.hosts, args.engine, args.engines)
    backend = backend_for(lab)
    if existing is not None and all(backend_for(existing).healthy(h) for h in existing.hosts):
        if _shape(existing) != _shape(lab):
            raise LabError(
                f"lab {lab.name!r} is up with {_describe(existing)} on {existing.subnet} (engines: "
                f"{_engines_of(existing)}); "
                "run `lab down` first, or `lab add` for one more host"
            )
        # Already up: make sure the images and inventory are there, change nothing else.
        imported = backend.import_images(lab.hosts, probe_image.build_all())
        inventory.write(lab)
        print(
            f"lab {lab.name!r} is already up ({_describe(lab)}); "
            f"{'imported ' + str(imported) + ' missing images' if imported else 'nothing changed'}"
        )
        return 0
    # Whatever is left of an earlier lab of this name (killed processes, namespaces, links,
    # rules) goes first; a lab never builds on top of remains.
    removed = backend.cleanup() if existing is None else backend_for(existing).cleanup()
    if existing is None or existing.backend != lab.backend:
        removed += backend_for(LabConfig(name=lab.name, subnet=lab.subnet, bridge=lab.bridge,
                                         backend=next(b for b in BACKENDS if b != lab.backend))).cleanup()
    if existing is not None and (existing.bridge != lab.bridge):
        removed += backend.cleanup()
    if removed:
        print(f"removed a stale lab {lab.name!r}: {', '.join(removed)}")
    backend.prepare()
    lab.save()
    backend.create(lab.hosts)
    backend.wait_ready(lab.hosts)
    backend.import_images(lab.hosts, probe_image.build_all())
    path = inventory.write(lab)
    took = time.monotonic() - started
    print_status(lab, backend)
    print(
        f"\nlab {lab.name!r} up: {len(lab.hosts)} hosts ready ({_describe(lab)}) in {took:.1f} s "
        f"[{backend.name} backend]\ninventory: {path}\nssh: python -m lab ssh {lab.hosts[0].name}"
    )
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    lab = LabConfig.load(args.name)
    if lab is not None:
        removed = backend_for(lab).cleanup()
    else:
        # No state file (a run killed early): look for traces of either backend.
        removed = []
        for backend in BACKENDS:
            lab = LabConfig(name=args.name, subnet=args.subnet, bridge=args.bridge, backend=backend)
            removed += backend_for(lab).cleanup()
    inventory.remove(lab)
    (lab.state_dir / "lab.json").unlink(missing_ok=True)
    print(f"lab {lab.name!r} down" + (f": removed {', '.join(removed)}" if removed else ": nothing was left"))
    return 0


def print_status(lab: LabConfig, backend: Backend, as_json: bool = False) -> None:
    rows = [backend.status(h) for h in lab.hosts]
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "host": s.host.name,
                        "kind": s.host.kind,
                        "address": s.host.address,
                        "ssh": s.reachable,
                        "engine": s.engine_up,
                        "swarm": s.swarm_state,
                        "engine_series": s.host.engine,
                        "engine_version": s.engine_version,
                    }
                    for s in rows
                ],
                indent=2,
            )
        )
        return
    print(f"{'HOST':<12}{'ADDRESS':<16}{'SSH':<6}{'ENGINE':<8}{'VERSION':<24}SWARM")
    for s in rows:
        print(
            f"{s.host.name:<12}{s.host.address:<16}{'up' if s.reachable else 'down':<6}"
            f"{'up' if s.engine_up else 'down':<8}{s.engine_version:<24}{s.swarm_state}"
        )


def cmd_status(args: argparse.Namespace) -> int:
    lab, backend = _loaded(args)
    print_status(lab, backend, args.json)
    return 0


def cmd_ssh(args: argparse.Namespace) -> int:
    lab, _ = _loaded(args)
    host = lab.host(args.host)
    argv = [
        "ssh",
        "-i",
        str(lab.key_file),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        f"root@{host.address}",
        *args.command,
    ]
    os.execvp("ssh", argv)
    return 1  # not reached


def _fault(action: str):
    def handler(args: argparse.Namespace) -> int:
        lab, backend = _loaded(args)
        for name in args.hosts:
            host = lab.host(name)
            started = time.monotonic()
            getattr(backend, action)(host)
            print(f"{action.replace('_', ' ')} {host.name}: done in {time.monotonic() - started:.1f} s")
        return 0

    return handler


def cmd_add(args: argparse.Namespace) -> int:
    lab, backend = _loaded(args)
    started = time.monotonic()
    host = _with_engines(lab, [lab.next_host(args.kind)], args.engine, "")[0]
    lab.hosts.append(host)
    backend.prepare()
    lab.save()
    backend.create([host])
    backend.wait_ready([host])
    backend.import_images([host], probe_image.build_all())
    inventory.write(lab)
    print(f"added {host.name} ({host.address}) in {time.monotonic() - started:.1f} s; inventory: {lab.inventory}")
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    from . import vm, vmimage

    if args.check:
        reason = vm.unavailable()
        print(reason or "the VM backend can run here")
        return 3 if reason else 0
    started = time.monotonic()
    img, built = vmimage.ensure(rebuild=args.rebuild)
    pruned = vmimage.prune(img)
    print(
        f"lab image: {img.folder} ({'built' if built else 'cached, recipe unchanged'}) in "
        f"{time.monotonic() - started:.1f} s" + (f"; removed older images: {', '.join(pruned)}" if pruned else "")
    )
    return 0


def cmd_engines(args: argparse.Namespace) -> int:
    """Fetch (or find in the cache) engine series and print their exact versions; exit 3 with
    the reason when one cannot be had here (no route to Debian's archive, say)."""
    failed = False
    for name in args.series or list(engines.SUITES):
        started = time.monotonic()
        try:
            engine = engines.ensure(engines.resolve(name))
        except LabError as exc:
            print(f"engine {name}: unavailable: {exc}")
            failed = True
            continue
        where = engine.root or "/usr (the machine's docker.io)"
        print(f"engine {engine.describe()} in {where} ({time.monotonic() - started:.1f} s)")
    return 3 if failed else 0


def cmd_set_engine(args: argparse.Namespace) -> int:
    """What upgrade-engine.yml's lab override runs in place of apt: the host's engine binaries
    become another series' from its next `service docker restart` (which the playbook does)."""
    lab, backend = _loaded(args)
    host = lab.host(args.host)
    series = engines.series_of(args.version)
    engine = engines.ensure(series)
    if host.engine == series:
        print(f"{host.name}: engine already {engine.describe()}; nothing changed")
        return 0
    before = host.engine
    lab.hosts = [dataclasses.replace(h, engine=series) if h.name == host.name else h for h in lab.hosts]
    backend.set_engine(lab.host(host.name))
    lab.save()
    print(f"{host.name}: engine {before} -> {engine.describe()}; changed, runs from the next engine restart")
    return 0


def cmd_inventory(args: argparse.Namespace) -> int:
    """Ansible's inventory-script protocol, for tools that read the lab at run time (Molecule)."""
    print("{}" if args.host else inventory.script(LabConfig.load(args.name)))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--name",
        default=os.environ.get("SWARMOPS_LAB", DEFAULT_NAME),
        help="which lab (default: %(default)s, or $SWARMOPS_LAB)",
    )
    sub = p.add_subparsers(dest="verb", required=True)

    up = sub.add_parser("up", help="create the lab, or keep it if it is up as asked")
    up.add_argument("--managers", type=int, default=3)
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--lb", type=int, default=0, help="load balancer hosts (lb1...)")
    up.add_argument("--outsiders", type=int, default=0, help="non-member hosts (outsider1...)")
    up.add_argument("--subnet", default=DEFAULT_SUBNET, help="the lab's /24 (default %(default)s)")
    up.add_argument("--bridge", default="", help="bridge name (default: from the lab name)")
    up.add_argument(
        "--backend",
        default=os.environ.get("SWARMOPS_LAB_BACKEND", "netns"),
        choices=BACKENDS,
        help="netns: namespaces on this machine (fast); vm: qemu VMs with their own kernel (default: %(default)s)",
    )
    up.add_argument("--inventory", default="", help="where to write the inventory")
    up.add_argument("--engine", default=engines.DEFAULT,
                    help="Docker engine series of every host: " + ", ".join(
                        f"{s} ({suite})" for s, suite in engines.SUITES.items()) + ", or newest (default %(default)s)")
    up.add_argument("--engines", default="", metavar="HOST=VERSION,...",
                    help="engine series per host, over --engine (e.g. manager2=26.1,worker1=28.5)")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="remove every trace of the lab")
    down.add_argument("--subnet", default=DEFAULT_SUBNET)
    down.add_argument("--bridge", default="")
    down.add_argument("--backend", choices=BACKENDS, help="ignored: a lab remembers its backend")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="a table of hosts, engines and swarm state")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    ssh = sub.add_parser("ssh", help="ssh to a lab host")
    ssh.add_argument("host")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    ssh.set_defaults(func=cmd_ssh)

    for verb, action, text in [
        ("kill", "kill_engine", "kill a host's engine (SIGKILL)"),
        ("restart", "restart_engine", "restart a host's engine and wait for it"),
        ("partition", "partition", "cut a host off the lab network"),
        ("heal", "heal", "put a partitioned host back"),
    ]:
        fp = sub.add_parser(verb, help=text)
        fp.add_argument("hosts", nargs="+", metavar="HOST")
        fp.set_defaults(func=_fault(action))

    inv = sub.add_parser("inventory", help="the inventory as JSON (Ansible inventory script)")
    inv.add_argument("--list", action="store_true")
    inv.add_argument("--host", default="")
    inv.set_defaults(func=cmd_inventory)

    img = sub.add_parser("image", help="build (or reuse) the VM backend's Debian 12 base image")
    img.add_argument("--rebuild", action="store_true", help="build again even if the recipe is unchanged")
    img.add_argument("--check", action="store_true", help="say whether VMs can run here (exit 3 if not)")
    img.set_defaults(func=cmd_image)

    eng = sub.add_parser("engines", help="fetch (or find cached) engine series; exit 3 when one cannot be had")
    eng.add_argument("series", nargs="*", help="series or suites (default: all)")
    eng.set_defaults(func=cmd_engines)

    swap = sub.add_parser("set-engine", help="swap a host's engine binaries, used from its next engine restart")
    swap.add_argument("host")
    swap.add_argument("version", help="a series (26.1), a suite (trixie), or the exact docker.io version cached")
    swap.set_defaults(func=cmd_set_engine)

    add = sub.add_parser("add", help="add one host")
    add.add_argument("kind", choices=list(KINDS))
    add.add_argument("--engine", default=engines.DEFAULT, help="its Docker engine series (default %(default)s)")
    add.set_defaults(func=cmd_add)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.verb in ("ssh", "engines"):
            return args.func(args)
        with locked(args.name):
            return args.func(args)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
