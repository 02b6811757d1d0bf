"""What a host holds, read without the engine's API: daemon.json, whether the engine is
installed, running and enabled, systemd, and the firewall (swarmops' iptables
chain as iptables and its saved file hold it, and what the other backends hold).

Used by swarm_host_info, the one read per host that every layer plans from; iptables_chain
reads its chain with the same `parse_chain`. Functions take the AnsibleModule only to run
commands.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
from typing import Any

from ansible.module_utils.swarmops.daemon_config import parse
from ansible.module_utils.swarmops.files import read_text
from ansible.module_utils.swarmops.firewalld import edits, parse_info
from ansible.module_utils.swarmops.ufw import parse_added

BACKENDS = ("iptables", "nftables", "ufw", "firewalld")


def file_facts(path: str) -> dict[str, Any]:
    """A file's text (None when it does not exist) and, when it exists, its mode and owner."""
    text = read_text(path)
    if text is None:
        return {"exists": False, "text": None}
    st = os.stat(path)
    return {"exists": True, "text": text, "mode": f"{stat.S_IMODE(st.st_mode):04o}", "uid": st.st_uid,
            "gid": st.st_gid}


def daemon_json(path: str) -> dict[str, Any]:
    """daemon.json as the engine reads it: its settings (None when missing or not a JSON
    object, with why), mode and owner."""
    facts = file_facts(path)
    settings, why = parse(facts.pop("text"))
    return {**facts, "path": path, "settings": settings, "error": why}


def systemd() -> bool:
    return os.path.exists("/run/systemd/system")


def service_enabled(unit: str = "docker") -> bool:
    """Whether a service (the engine by default) starts at boot: a systemd unit (or socket)
    wanted by a target, or a SysV start link (hosts without systemd, as the lab's)."""
    if systemd():
        wants = glob.glob(f"/etc/systemd/system/*.wants/{unit}.service") + glob.glob(
            f"/etc/systemd/system/*.wants/{unit}.socket")
        return bool(wants)
    return bool(glob.glob(f"/etc/rc[2-5].d/S[0-9][0-9]{unit}"))


def pid_running(pidfile: str) -> bool:
    """Whether the process a pid file names is alive."""
    text = read_text(pidfile)
    return bool(text and text.strip().isdigit() and os.path.exists(f"/proc/{text.strip()}"))


def file_digest(path: str) -> dict[str, Any]:
    """A file the controller renders: whether it exists, the sha256 of its text, its mode and
    owner (the controller compares them with the text it would write)."""
    facts = file_facts(path)
    text = facts.pop("text")
    if text is not None:
        facts["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return {**facts, "path": path}


def haproxy(path: str, pidfile: str) -> dict[str, Any]:
    """HAProxy on a load balancer host: installed or not, its configuration file (file_digest),
    and whether it runs and starts at boot."""
    return {"installed": _exists("/usr/sbin/haproxy", "/usr/bin/haproxy"), "config": file_digest(path),
            "running": pid_running(pidfile), "enabled": service_enabled("haproxy")}


# The unit of the firewall role that restores the saved rules at boot, where systemd runs.
BOOT_UNIT = "swarmops-firewall"


def boot_unit(unit: str = BOOT_UNIT) -> dict[str, Any] | None:
    """The boot-time restore unit (file_digest, and whether it is enabled), or None where
    systemd does not run the host (the role keeps no unit there)."""
    if not systemd():
        return None
    return {**file_digest(f"/etc/systemd/system/{unit}.service"), "enabled": service_enabled(unit)}


# The iptables chain -------------------------------------------------------------------------
def parse_chain(output: str, chain: str) -> list[str]:
    """Rules of `iptables -S CHAIN` output, without the `-A CHAIN ` prefix."""
    prefix = f"-A {chain} "
    return [line[len(prefix):].strip() for line in output.splitlines() if line.startswith(prefix)]


def parse_saved(text: str | None, chain: str) -> dict[str, Any] | None:
    """The rules and the parent chains that jump to `chain` in an iptables-restore fragment as
    iptables_chain saves it (None when there is no file)."""
    if text is None:
        return None
    jumps = [line.split()[1] for line in text.splitlines()
             if line.startswith("-I ") and line.rstrip().endswith(f"-j {chain}")]
    return {"rules": parse_chain(text, chain), "jump_from": jumps}


def iptables_chain(module: Any, chain: str, parents: list[str], persist_file: str) -> dict[str, Any]:
    """The chain as iptables holds it (rules None when it does not exist), which parents jump
    to it, and what its saved file holds."""
    iptables = module.get_bin_path("iptables")
    if not iptables:
        return {"rules": None, "jumps": {p: False for p in parents}, "saved": None}
    rc, out, _err = module.run_command([iptables, "-w", "-t", "filter", "-S", chain])
    rules = parse_chain(out, chain) if rc == 0 else None
    jumps = {parent: rules is not None
             and module.run_command([iptables, "-w", "-t", "filter", "-C", parent, "-j", chain])[0] == 0
             for parent in parents}
    saved = parse_saved(read_text(persist_file), chain) if persist_file else None
    return {"rules": rules, "jumps": jumps, "saved": saved}


# What the other backends hold ---------------------------------------------------------------
def _exists(*paths: str) -> bool:
    return any(p and os.path.exists(p) for p in paths)


def iptables_leftover(module: Any, chain: str, persist_file: str) -> bool:
    iptables = module.get_bin_path("iptables")
    if iptables and module.run_command([iptables, "-w", "-t", "filter", "-S", chain])[0] == 0:
        return True
    return _exists(persist_file)


def nftables_leftover(module: Any, table: str, persist_file: str) -> bool:
    nft = module.get_bin_path("nft")
    if nft and module.run_command([nft, "list", "table", "inet", table])[0] == 0:
        return True
    return _exists(persist_file, f"{persist_file}.listing" if persist_file else "")


def ufw_leftover(module: Any, comment: str) -> bool:
    ufw = module.get_bin_path("ufw")
    if not ufw:
        return False
    rc, out, _err = module.run_command([ufw, "show", "added"])
    # ufw_rules fails on this too: report a leftover so that it runs and says why.
    return rc != 0 or bool(parse_added(out, comment))


def firewalld_leftover(module: Any, policy: str, config_dir: str) -> tuple[bool, bool]:
    """(whether the policy is saved or holds anything in the running firewalld, whether firewalld runs).
    firewalld_policy's state=absent leaves an empty runtime policy until the next reload: not a leftover."""
    saved = _exists(os.path.join(config_dir, "policies", f"{policy}.xml"))
    cmd = module.get_bin_path("firewall-cmd")
    if not cmd or module.run_command([cmd, "--state"])[0] != 0:
        return saved, False
    if saved or policy in module.run_command([cmd, "--permanent", "--get-policies"])[1].split():
        return True, True
    rc, out, _err = module.run_command([cmd, f"--info-policy={policy}"])
    return rc == 0 and bool(edits(parse_info(out), [])), True


def leftovers(module: Any, backends: list[str], names: dict[str, str]) -> dict[str, Any]:
    """What each of `backends` holds of swarmops' rules, and whether firewalld runs. `names`:
    iptables_chain, iptables_persist_file, nft_table, nft_persist_file, ufw_comment,
    firewalld_policy, firewalld_config_dir."""
    checks = {
        "iptables": lambda: iptables_leftover(module, names["iptables_chain"], names["iptables_persist_file"]),
        "nftables": lambda: nftables_leftover(module, names["nft_table"], names["nft_persist_file"]),
        "ufw": lambda: ufw_leftover(module, names["ufw_comment"]),
    }
    found, firewalld_running = {}, False
    for backend in dict.fromkeys(backends):
        if backend == "firewalld":
            found[backend], firewalld_running = firewalld_leftover(module, names["firewalld_policy"],
                                                                   names["firewalld_config_dir"])
        else:
            found[backend] = checks[backend]()
    return {"leftovers": found, "firewalld_running": firewalld_running}


# The options both read modules take, with the firewall role's default names (so that the
# preflight's read, which cannot see the role's defaults, reads what the role keeps).
NAME_OPTIONS: dict[str, dict[str, Any]] = {
    "iptables_chain": {"type": "str", "default": "SWARMOPS-INPUT"},
    "iptables_persist_file": {"type": "str", "default": "/etc/iptables/swarmops.v4"},
    "nft_table": {"type": "str", "default": "swarmops"},
    "nft_persist_file": {"type": "str", "default": "/etc/swarmops/firewall.nft"},
    "ufw_comment": {"type": "str", "default": "swarmops"},
    "firewalld_policy": {"type": "str", "default": "swarmops"},
    "firewalld_config_dir": {"type": "path", "default": "/etc/firewalld"},
}
