"""Jinja filters for swarmops roles: pure functions, unit-tested in tests/unit."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from pathlib import Path
from typing import Any

try:  # in the collection, module_utils is a package of it (collection/build.py points this there)
    from ansible.module_utils.swarmops import quorum, swarm_settings
except ImportError:  # in the tree, module_utils/ is not on the controller's path: put it there,
    # as the modules' search path (ansible.cfg) and the tests have it.
    import ansible.module_utils

    ansible.module_utils.__path__.append(str(Path(__file__).resolve().parents[2] / "module_utils"))
    from ansible.module_utils.swarmops import quorum, swarm_settings


def in_networks(address: str, cidrs: list[str]) -> bool:
    """True when address lies in one of cidrs."""
    ip = ipaddress.ip_address(str(address).strip())
    return any(ip in ipaddress.ip_network(c, strict=False) for c in cidrs)


def bad_networks(cidrs: list[str]) -> list[str]:
    """The entries of cidrs that are not networks (address/prefix), for a role to name them."""
    bad = []
    for cidr in cidrs:
        try:
            ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            bad.append(str(cidr))
    return bad


def _canonical_net(cidr: str) -> str:
    net = ipaddress.ip_network(str(cidr).strip(), strict=False)
    return str(net)  # iptables -S prints a host as a.b.c.d/32


def firewall_plan(cidrs: list[str], ports: list[list[Any]], esp: bool = False,
                  published: list[dict[str, Any]] | None = None) -> list[tuple[str | None, str, int | None, str]]:
    """The swarm firewall as data, one (source network or None, protocol, port or None, action)
    per rule, in order: published ports accepted from anywhere; each swarm port (and ESP) accepted
    from each cluster network; the same dropped from anywhere else. Both backends render this."""
    proto_ports = [(str(p).lower(), int(n)) for p, n in ports]
    for proto, port in proto_ports:
        if proto not in ("tcp", "udp") or not 0 < port < 65536:
            raise ValueError(f"bad swarm port {proto}/{port}: protocol tcp or udp, port 1-65535")
    plan: list[tuple[str | None, str, int | None, str]] = []
    for item in published or []:
        proto, port = str(item.get("protocol", "tcp")).lower(), int(item["port"])
        if proto not in ("tcp", "udp") or not 0 < port < 65536:
            raise ValueError(f"swarm_firewall_published_ports: bad entry {item}: protocol tcp|udp, port 1-65535")
        plan.append((None, proto, port, "accept"))
    for net in (_canonical_net(c) for c in cidrs):
        plan += [(net, proto, port, "accept") for proto, port in proto_ports]
        if esp:
            plan.append((net, "esp", None, "accept"))
    plan += [(None, proto, port, "drop") for proto, port in proto_ports]
    plan.append((None, "esp", None, "drop"))
    return plan


def firewall_rules(cidrs: list[str], ports: list[list[Any]], esp: bool = False,
                   published: list[dict[str, Any]] | None = None) -> list[str]:
    """The swarm chain's rules for iptables, written as `iptables -S` prints them."""
    rules = []
    for net, proto, port, action in firewall_plan(cidrs, ports, esp, published):
        source = f"-s {net} " if net else ""
        match = f"-p {proto} -m {proto} --dport {port} " if port is not None else f"-p {proto} "
        rules.append(f"{source}{match}-j {action.upper()}")
    return rules


def nft_rules(cidrs: list[str], ports: list[list[Any]], esp: bool = False,
              published: list[dict[str, Any]] | None = None) -> list[str]:
    """The same rules as nft statements for the nftables backend's table."""
    rules = []
    for net, proto, port, action in firewall_plan(cidrs, ports, esp, published):
        source = ""
        if net:
            source = f"{'ip6' if ':' in net else 'ip'} saddr {net} "
        match = f"{proto} dport {port} " if port is not None else f"meta l4proto {proto} "
        rules.append(f"{source}{match}{action}")
    return rules


def ufw_rules(cidrs: list[str], ports: list[list[Any]], esp: bool = False,
              published: list[dict[str, Any]] | None = None) -> list[str]:
    """The same rules for the ufw backend, as `ufw show added` prints them (hosts without /32)."""
    rules = []
    for net, proto, port, action in firewall_plan(cidrs, ports, esp, published):
        verb = "allow" if action == "accept" else "deny"
        host = net.removesuffix("/32").removesuffix("/128") if net else None
        if host and port is not None:
            rules.append(f"{verb} from {host} to any port {port} proto {proto}")
        elif host:
            rules.append(f"{verb} from {host} proto {proto}")
        elif port is not None:
            rules.append(f"{verb} {port}/{proto}")
        else:
            rules.append(f"{verb} to any proto {proto}")
    return rules


def firewalld_rules(cidrs: list[str], ports: list[list[Any]], esp: bool = False,
                    published: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The same rules for the firewalld backend's policy, as rich rules in data form. firewalld
    orders a policy's rich rules by their priority, not as listed: every accept gets -2 and
    every drop -1, so the accepts still come first."""
    rules = []
    for net, proto, port, action in firewall_plan(cidrs, ports, esp, published):
        rule: dict[str, Any] = {"action": action, "priority": -2 if action == "accept" else -1}
        if net:
            rule.update(family="ipv6" if ":" in net else "ipv4", source=net)
        rule["protocol"] = proto
        if port is not None:
            rule["port"] = port
        rules.append(rule)
    return rules


def status_lines(info: dict[str, Any]) -> list[str]:
    """swarm_info's result as lines of a report a person reads at a glance."""
    q = info.get("quorum") or {}
    lines = [
        f"swarm {(info.get('swarm') or {}).get('id', '?')}  leader {info.get('leader', '?')}  "
        f"managers reachable {q.get('reachable', '?')}/{q.get('managers', '?')} "
        f"(quorum {q.get('quorum', '?')}, may still lose {q.get('can_still_lose', '?')})",
        f"{'NODE':<14}{'ROLE':<9}{'AVAILABILITY':<14}{'STATE':<8}{'ENGINE':<16}LABELS",
    ]
    for n in sorted(info.get("nodes") or [], key=lambda n: (n.get("role") != "manager", n.get("hostname", ""))):
        labels = ",".join(f"{k}={v}" for k, v in sorted((n.get("labels") or {}).items()))
        lines.append(f"{n.get('hostname', ''):<14}{n.get('role', ''):<9}{n.get('availability', ''):<14}"
                     f"{n.get('state', ''):<8}{n.get('engine_version', ''):<16}{labels}".rstrip())
    services = info.get("services") or []
    if services:
        lines.append(f"{'SERVICE':<24}{'MODE':<12}RUNNING/DESIRED")
        for svc in sorted(services, key=lambda s: s.get("name", "")):
            lines.append(f"{svc.get('name', ''):<24}{svc.get('mode', ''):<12}{svc.get('running')}/{svc.get('desired')}")
    return lines


def degraded_services(services: list[dict[str, Any]]) -> list[str]:
    """Services running fewer tasks than desired, as "name running/desired" (swarm_info's services)."""
    return [f"{s.get('name')} {s.get('running') or 0}/{s.get('desired')}"
            for s in services or []
            if s.get("desired") is not None and (s.get("running") or 0) < s["desired"]]


# The status report (playbooks/status.yml) --------------------------------------------------

CERT_WARN_DAYS = 30


def _days_left(not_after: str | None, now: str) -> int | None:
    if not not_after:
        return None
    end = datetime.datetime.fromisoformat(not_after)
    start = datetime.datetime.fromisoformat(now)
    if end.tzinfo is None:
        end = end.replace(tzinfo=datetime.UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=datetime.UTC)
    return (end - start).days


def _manager_status(node: dict[str, Any], leader: str) -> str:
    if node.get("role") != "manager":
        return "-"
    if node.get("hostname") == leader:
        return "leader"
    return node.get("manager_reachability") or "unknown"


def status_report(cluster: dict[str, Any], node_infos: dict[str, dict[str, Any]] | None,
                  services: list[dict[str, Any]] | None, now: str) -> dict[str, Any]:
    """One document of the swarm's state, from swarm_info on a manager (`cluster`), swarm_info
    on each host (`node_infos`, inventory name -> result; certificates are only readable on
    their own node) and swarm_service_info's services. `now` is an ISO 8601 time. Pure."""
    node_infos = node_infos or {}
    by_hostname = {(i.get("local") or {}).get("hostname"): i for i in node_infos.values() if i.get("local")}
    leader = cluster.get("leader") or ""
    quorum = cluster.get("quorum") or {}
    problems: list[str] = []
    if not cluster.get("is_manager"):
        problems.append("the manager asked is not an active manager: no cluster view")
    elif cluster.get("has_leader") is False or not quorum.get("has_quorum", False):
        problems.append(f"quorum lost: {quorum.get('reachable')} of {quorum.get('managers')} managers reachable, "
                        f"{quorum.get('quorum')} needed (playbooks/recover.yml)")
    elif quorum.get("can_still_lose", 0) == 0 and quorum.get("managers", 0) > 1:
        problems.append("no manager to spare: losing one more manager loses quorum")
    if cluster.get("ca_rotation_in_progress"):
        problems.append("a root CA rotation is in progress")

    nodes = []
    for n in sorted(cluster.get("nodes") or [], key=lambda n: (n.get("role") != "manager", n.get("hostname", ""))):
        local = (by_hostname.get(n.get("hostname")) or {}).get("local") or {}
        not_after = local.get("cert_not_after") if local.get("node_id") == n.get("node_id") else None
        days = _days_left(not_after, now)
        row = {
            "hostname": n.get("hostname", ""), "node_id": n.get("node_id", ""), "role": n.get("role", ""),
            "availability": n.get("availability", ""), "state": n.get("state", ""),
            "manager": _manager_status(n, leader), "engine": n.get("engine_version", ""),
            "cert_not_after": not_after, "cert_days_left": days, "tls_current": n.get("tls_current"),
            "labels": n.get("labels") or {},
        }
        nodes.append(row)
        if row["state"] != "ready":
            problems.append(f"node {row['hostname']} is {row['state']}")
        if row["manager"] not in ("-", "leader", "reachable"):
            problems.append(f"manager {row['hostname']} is {row['manager']}")
        if row["availability"] != "active":
            problems.append(f"node {row['hostname']} is {row['availability']}")
        if days is not None and days < CERT_WARN_DAYS:
            problems.append(f"node {row['hostname']}'s certificate expires in {days} days ({not_after})")
    for host, info in sorted(node_infos.items()):
        if not info.get("local"):
            problems.append(f"{host}: engine not answering ({info.get('msg', 'no answer')})")

    rows = []
    for svc in sorted(services or [], key=lambda s: s.get("name", "")):
        update = (svc.get("update_status") or {}).get("state") or ""
        row = {
            "name": svc.get("name", ""), "mode": svc.get("mode", ""), "image": svc.get("image", ""),
            "running": svc.get("replicas_running"), "desired": svc.get("replicas_desired"),
            "task_states": dict(sorted((svc.get("task_states") or {}).items())), "update": update,
            "stack": svc.get("stack"),
        }
        rows.append(row)
        if row["desired"] is not None and (row["running"] or 0) < row["desired"]:
            problems.append(f"service {row['name']} runs {row['running'] or 0}/{row['desired']} tasks")
        if update in ("paused", "rollback_started", "rollback_paused", "rollback_completed"):
            problems.append(f"service {row['name']}: update {update}")

    return {
        "generated": now,
        "swarm_id": (cluster.get("swarm") or {}).get("id"),
        "leader": leader,
        "quorum": quorum,
        "ca_rotation_in_progress": bool(cluster.get("ca_rotation_in_progress")),
        "nodes": nodes,
        "services": rows,
        "problems": problems,
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    return ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def _cert(row: dict[str, Any]) -> str:
    if not row.get("cert_not_after"):
        return "?"
    return f"{row['cert_not_after'][:10]} ({row['cert_days_left']}d)"


def _states(states: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in states.items()) or "-"


def _quorum_line(report: dict[str, Any]) -> str:
    q = report.get("quorum") or {}
    return (f"swarm {report.get('swarm_id') or '?'}  leader {report.get('leader') or 'none'}  "
            f"managers reachable {q.get('reachable', '?')}/{q.get('managers', '?')} "
            f"(quorum {q.get('quorum', '?')}, may still lose {q.get('can_still_lose', '?')})")


def _node_rows(report: dict[str, Any]) -> list[list[str]]:
    return [[n["hostname"], n["role"], n["manager"], n["availability"], n["state"], n["engine"], _cert(n),
             "yes" if n.get("tls_current") else "no",
             ",".join(f"{k}={v}" for k, v in sorted(n["labels"].items())) or "-"] for n in report.get("nodes", [])]


NODE_HEADER = ["NODE", "ROLE", "MANAGER", "AVAILABILITY", "STATE", "ENGINE", "CERT EXPIRES", "CURRENT CA", "LABELS"]
SERVICE_HEADER = ["SERVICE", "MODE", "RUNNING/DESIRED", "TASKS", "UPDATE", "IMAGE"]


def _service_rows(report: dict[str, Any]) -> list[list[str]]:
    return [[s["name"], s["mode"], f"{s['running']}/{s['desired']}", _states(s["task_states"]), s["update"] or "-",
             s["image"]] for s in report.get("services", [])]


def report_lines(report: dict[str, Any]) -> list[str]:
    """status_report's document as the lines of a table a person reads at a glance."""
    lines = [f"generated {report.get('generated')}", _quorum_line(report), ""]
    lines += _table(NODE_HEADER, _node_rows(report))
    if report.get("services"):
        lines += ["", *_table(SERVICE_HEADER, _service_rows(report))]
    lines.append("")
    problems = report.get("problems") or []
    lines += [f"PROBLEM: {p}" for p in problems] or ["no problems found"]
    return lines


def report_markdown(report: dict[str, Any]) -> str:
    """status_report's document as Markdown (tables, then the problems)."""
    def md(header: list[str], rows: list[list[str]]) -> list[str]:
        esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                *["| " + " | ".join(r) + " |" for r in esc]]

    out = ["# Swarm status", "", f"Generated {report.get('generated')}.", "", _quorum_line(report), "", "## Nodes", ""]
    out += md(NODE_HEADER, _node_rows(report))
    out += ["", "## Services", ""]
    out += md(SERVICE_HEADER, _service_rows(report)) if report.get("services") else ["No services."]
    out += ["", "## Problems", ""]
    out += [f"- {p}" for p in report.get("problems") or []] or ["None found."]
    return "\n".join(out) + "\n"


# Plans from swarm_host_info's one read per host: what a layer's write task would change on a
# host and why, as a list of reasons (empty: the task is skipped, no round trip). When the
# read is missing or partial, the reasons say so and the task runs, deciding for itself.
def _owner_reasons(facts: dict[str, Any], mode: str) -> list[str]:
    """A reason to write a file whose text is right when its mode or owner (root) is not."""
    if facts.get("mode") == mode and facts.get("uid") == 0 and facts.get("gid") == 0:
        return []
    return [f"mode or owner differ ({facts.get('mode')}, uid {facts.get('uid')}, gid {facts.get('gid')})"]


def engine_plan(host: dict[str, Any] | None, config: dict[str, Any], mode: str = "0644",
                enabled: bool = True) -> dict[str, list[str]]:
    """Reasons to write daemon.json (`daemon_json`) and to start or enable the engine
    (`service`), from the host read and the settings the role wants."""
    if not host or "engine" not in host:
        return {"daemon_json": ["this host was not read"], "service": ["this host was not read"]}
    engine, daemon = host["engine"], host.get("daemon_json") or {}
    write: list[str] = []
    if not engine.get("installed"):
        write.append("the engine was not installed when the host was read")
    if daemon.get("settings") is None:
        write.append(f"{daemon.get('path', 'daemon.json')}: {daemon.get('error') or 'not read'}")
    elif daemon["settings"] != config:
        differing = sorted(k for k in set(daemon["settings"]) | set(config)
                           if daemon["settings"].get(k) != config.get(k))
        write.append("settings differ: " + ", ".join(differing))
    else:
        write += _owner_reasons(daemon, mode)
    service: list[str] = []
    if engine.get("running") != enabled:
        service.append("the engine is " + ("not running" if enabled else "running"))
    if engine.get("enabled") != enabled:
        service.append("the engine is " + ("not enabled at boot" if enabled else "enabled at boot"))
    return {"daemon_json": write, "service": service}


def lb_plan(host: dict[str, Any] | None, text: str) -> dict[str, list[str]]:
    """Reasons to install HAProxy (`install`), to write its configuration (`config`: the text
    rendered on the controller against the sha256, mode and owner read) and to start or enable
    it (`service`), from haproxy_config's read of a load balancer host."""
    if not host or "config" not in host:
        reasons = ["this host was not read"]
        return {"install": reasons, "config": reasons, "service": reasons}
    service = [f"HAProxy is not {what}" for what, ok in (("running", host.get("running")),
                                                         ("enabled at boot", host.get("enabled"))) if not ok]
    return {"install": [] if host.get("installed") else ["HAProxy is not installed"],
            "config": _text_file_reasons(host["config"], text, "0644"), "service": service}


def _text_file_reasons(facts: dict[str, Any], text: str, mode: str) -> list[str]:
    """Reasons to write a file the controller renders, from its digest as read (exists, sha256,
    mode, owner): it is missing, its text differs, or its mode or owner do."""
    if not facts.get("exists"):
        return [f"{facts.get('path')} does not exist"]
    if facts.get("sha256") != hashlib.sha256(text.encode("utf-8")).hexdigest():
        return [f"{facts.get('path')} differs"]
    return _owner_reasons(facts, mode)


def boot_unit_plan(firewall: dict[str, Any] | None, text: str, wanted: bool) -> dict[str, list[str]]:
    """Reasons to write the unit that restores the saved rules at boot (`write`), to enable it
    (`enable`) or to remove it (`remove`, when nothing is saved to restore), from the host's
    firewall read (its `boot_unit`). A host without systemd keeps no unit: nothing to do."""
    if not firewall or "boot_unit" not in firewall:
        reasons = ["this host was not read"]
        return {"write": reasons if wanted else [], "enable": reasons if wanted else [],
                "remove": [] if wanted else reasons}
    unit = firewall["boot_unit"]
    if unit is None:
        return {"write": [], "enable": [], "remove": []}
    if not wanted:
        return {"write": [], "enable": [],
                "remove": [f"{unit.get('path')} exists and nothing is saved to restore"] if unit.get("exists") else []}
    return {"write": _text_file_reasons(unit, text, "0644"),
            "enable": [] if unit.get("enabled") else ["the unit is not enabled at boot"], "remove": []}


def engine_setting_errors(extra_config: dict[str, Any], managed_keys: list[str]) -> list[str]:
    """What is wrong with docker_engine_extra_config, as sentences (empty: nothing)."""
    errors = []
    if "live-restore" in extra_config:
        errors.append("docker_engine_extra_config sets live-restore: the engine refuses swarm mode with live-restore "
                      'enabled ("--live-restore daemon configuration is incompatible with swarm mode"). Remove it.')
    managed = [k for k in extra_config if k in managed_keys]
    if managed:
        errors.append(f"docker_engine_extra_config sets {', '.join(managed)}, which the role manages: use "
                      "docker_engine_log_driver, docker_engine_log_opts, docker_engine_data_root, "
                      "docker_engine_metrics_addr, docker_engine_default_address_pools or docker_engine_labels "
                      "instead.")
    return errors


def firewall_setting_errors(cidrs: list[str], address: str, backend: str, firewall: dict[str, Any] | None) -> list[str]:
    """What is wrong with the firewall settings of a host, given its read, as sentences."""
    bad = bad_networks(cidrs)
    if bad:
        return [f"swarm_firewall_cluster_cidrs: not networks in address/prefix form: {', '.join(bad)} "
                "(e.g. 10.0.0.0/24 or 10.0.0.5/32)."]
    errors = []
    try:
        inside = bool(cidrs) and in_networks(address, cidrs)
    except ValueError:
        inside = False
    if not inside:
        errors.append(f"swarm_firewall_cluster_cidrs must list the networks of every node (this node advertises "
                      f"{address}).")
    # firewalld's nftables chains would still reject the swarm ports another backend accepts,
    # and a firewalld reload removes other programs' iptables rules: one firewall, not two.
    if backend != "firewalld" and (firewall or {}).get("firewalld_running"):
        errors.append(f"swarm_firewall_backend={backend}, but firewalld is running on this host: set "
                      "swarm_firewall_backend=firewalld, or stop and disable firewalld first (allowed backends: "
                      "iptables, nftables, ufw, firewalld).")
    return errors


def iptables_plan(firewall: dict[str, Any] | None, rules: list[str], jump_from: list[str],
                  persist_file: str = "") -> list[str]:
    """Reasons the iptables_chain task must run, from the host read's `firewall`."""
    chain = (firewall or {}).get("iptables")
    if chain is None:
        return ["the chain was not read"]
    wanted = [" ".join(r.split()) for r in rules]
    reasons = []
    if chain.get("rules") is None:
        reasons.append("the chain does not exist")
    elif chain["rules"] != wanted:
        reasons.append("the chain's rules differ")
    missing = [p for p in jump_from if not (chain.get("jumps") or {}).get(p)]
    if missing:
        reasons.append("no jump from " + ", ".join(missing))
    if persist_file:
        saved = chain.get("saved")
        if saved is None:
            reasons.append(f"{persist_file} does not exist")
        elif saved.get("rules") != wanted or saved.get("jump_from") != list(jump_from):
            reasons.append(f"{persist_file} differs")
    return reasons


def swarm_settings_plan(info: dict[str, Any] | None, settings: dict[str, Any],
                        init_only: dict[str, Any] | None = None) -> list[str]:
    """Why the bootstrap manager's `swarm` task must run; [] when it would change nothing.

    `info` is the manager's membership as swarm_info reports it (the preflight's read),
    `settings` the swarm settings asked for (the `swarm` module's options; None: not managed),
    `init_only` the options fixed when the swarm is created (default_addr_pool, subnet_size,
    advertise_addr), which the module only warns about: a difference there is a reason too, so
    the warning is still given. A bad value is a reason, so the module's own error names it."""
    info = info or {}
    if not info.get("is_manager") or not info.get("has_leader") or not info.get("swarm"):
        state = (info.get("local") or {}).get("state", "unknown")
        return [f"no swarm settings to compare: this node is {state}, not a manager of a swarm with a leader"]
    try:
        wanted = swarm_settings.validate({k: v for k, v in settings.items() if v is not None})
    except ValueError as exc:
        return [str(exc)]
    current = info["swarm"].get("settings") or {}
    shown = swarm_settings.shown(wanted)
    reasons = [f"{name} is {current.get(name)}, asked {value}" for name, value in shown.items()
               if current.get(name) != value]
    swarm = info["swarm"]
    inspect = {"DefaultAddrPool": swarm.get("default_addr_pool"), "SubnetSize": swarm.get("subnet_size"),
               "DataPathPort": swarm.get("data_path_port")}
    given = {k: v for k, v in (init_only or {}).items() if v not in (None, "", [])}
    try:
        reasons += swarm_settings.init_only_mismatches(inspect, (info.get("local") or {}).get("node_addr", ""), given)
    except ValueError as exc:
        reasons.append(str(exc))
    return reasons


def node_changes(wants: list[dict[str, Any]], nodes: list[dict[str, Any]],
                 joined_only: bool = False) -> list[dict[str, Any]]:
    """The entries of swarm_node's `nodes` option for the nodes that lack a label or the
    availability asked for: [] on a converged cluster, so the task is skipped.

    `wants` has one item per host (host, node_id, labels, availability: '' leaves it as it
    is), `nodes` the cluster's nodes as swarm_info lists them. A host whose node ID is not
    among them joins in this run: it is listed by hostname, unless `joined_only` (check mode,
    where it has not joined and no manager knows it)."""
    by_id = {n.get("node_id"): n for n in nodes or []}
    out = []
    for want in wants:
        labels = {str(k): "" if v is None else str(v) for k, v in (want.get("labels") or {}).items()}
        availability = want.get("availability") or ""
        if not labels and not availability:
            continue
        node = by_id.get(want.get("node_id") or None)
        if node is None:
            if joined_only:
                continue
            current_labels, current_availability = {}, None
        else:
            current_labels, current_availability = node.get("labels") or {}, node.get("availability")
        entry: dict[str, Any] = {"node": node["node_id"] if node else want["host"]}
        if any(current_labels.get(k) != v for k, v in labels.items()):
            entry["labels"] = labels
        if availability and availability != current_availability:
            entry["availability"] = availability
        if len(entry) > 1:
            out.append(entry)
    return out


# Every forked worker that templates a swarmops filter imports this file anew (the controller's
# main process never does): the two filters below import the service planning code only when
# they run, in the services play, so that every other task's worker does not pay for it.
def service_reasons(item: dict[str, Any], read: dict[str, Any] | None, key: str) -> list[str]:
    """Why the services layer must call swarm_service for an item of swarm_services_services:
    empty when the manager's read (swarm_info's workloads) shows it as asked and converged."""
    if not read:
        return ["the workloads were not read"]
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible.module_utils.swarmops import service, workloads

    item, read = _plain(item), _plain(read)
    options = service.SERVICE_OPTIONS
    checked = ArgumentSpecValidator(options).validate({k: v for k, v in item.items() if k in options})
    if checked.error_messages:
        return [f"service {item.get('name')}: {'; '.join(checked.error_messages)}"]
    return workloads.service_reasons(checked.validated_parameters, read, key)


def stack_reasons(item: dict[str, Any], compose: Any, read: dict[str, Any] | None, key: str) -> list[str]:
    """Why the services layer must call swarm_stack for an item of swarm_services_stacks, whose
    compose file the controller rendered: empty when the read shows the stack as it asks."""
    if not read:
        return ["the workloads were not read"]
    from ansible.module_utils.swarmops import workloads

    return workloads.stack_reasons(item["name"], item.get("state") or "present", _plain(compose),
                                   bool(item.get("prune", True)), _plain(read), key)


def _plain(value: Any) -> Any:
    """Plain dicts and lists of a filter's argument. Ansible hands containers over lazily,
    templating each value on every access: a plan that copies and compares a whole registered
    read through them spends tenths of a second where it needs milliseconds."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"swarmops_in_networks": in_networks, "swarmops_bad_networks": bad_networks,
                "swarmops_engine_plan": engine_plan, "swarmops_swarm_settings_plan": swarm_settings_plan,
                "swarmops_majority": quorum.majority, "swarmops_failures_tolerated": quorum.failures_tolerated,
                "swarmops_engine_setting_errors": engine_setting_errors,
                "swarmops_firewall_setting_errors": firewall_setting_errors, "swarmops_iptables_plan": iptables_plan,
                "swarmops_firewall_rules": firewall_rules,
                "swarmops_nft_rules": nft_rules, "swarmops_ufw_rules": ufw_rules,
                "swarmops_firewalld_rules": firewalld_rules,
                "swarmops_status_lines": status_lines, "swarmops_degraded_services": degraded_services,
                "swarmops_status_report": status_report, "swarmops_report_lines": report_lines,
                "swarmops_report_markdown": report_markdown, "swarmops_node_changes": node_changes,
                "swarmops_lb_plan": lb_plan, "swarmops_boot_unit_plan": boot_unit_plan,
                "swarmops_service_reasons": service_reasons, "swarmops_stack_reasons": stack_reasons}
