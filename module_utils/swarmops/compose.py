"""A compose file (as a dict) in swarmops' own words: what swarm_stack hands to the shared
service, network, secret and config code. Pure: unit-tested without an engine.

Names are namespaced as `docker stack deploy` does (`STACK_NAME`), every object carries the
label `com.docker.stack.namespace=STACK`, and a service without networks joins `STACK_default`.
Keys swarmops does not support are errors naming the key and what is allowed, never ignored.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

from .spec import SpecError, parse_port, split_command

TOP_KEYS = ("version", "services", "networks", "secrets", "configs", "volumes", "name")
SERVICE_KEYS = ("image", "command", "entrypoint", "environment", "deploy", "ports", "networks", "secrets",
                "configs", "volumes", "labels", "healthcheck", "hostname", "user", "working_dir",
                "stop_grace_period")
DEPLOY_KEYS = ("mode", "replicas", "resources", "placement", "update_config", "rollback_config",
               "restart_policy", "labels", "endpoint_mode")
NETWORK_KEYS = ("driver", "attachable", "internal", "driver_opts", "ipam", "labels", "external", "name")
FILE_KEYS = ("file", "content", "external", "name", "labels")
FLOW_KEYS = ("parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order")


def _only(where: str, value: Any, allowed: tuple[str, ...]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{where}: expected a mapping, got {value!r}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise SpecError(f"{where}: unsupported key(s) {', '.join(unknown)}; swarm_stack supports {', '.join(allowed)}")
    return value


def _names(value: Any) -> list[tuple[str, dict]]:
    """A compose list of names, or a mapping of name -> options."""
    if isinstance(value, dict):
        return [(k, v or {}) for k, v in value.items()]
    return [(v, {}) if isinstance(v, str) else (v.get("source"), v) for v in value or []]


def as_mapping(where: str, value: Any) -> dict:
    """Compose's two spellings of environment and labels, `[K=V, K]` or `{K: V}`, as a dict
    (a bare `K` maps to None)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            if not isinstance(item, str) or item.startswith("="):
                raise SpecError(f"{where}: list items must be KEY=VALUE or KEY strings, got {item!r}")
            key, sep, val = item.partition("=")
            out[key] = val if sep else None
        return out
    raise SpecError(f"{where}: expected a mapping or a list of KEY=VALUE, got {value!r}")


def _flow(where: str, value: Any) -> dict | None:
    value = _only(where, value, FLOW_KEYS)
    return {k: value.get(k) for k in FLOW_KEYS} if value else None


def _duration(value: Any) -> Any:
    return None if value is None else str(value)


def _volumes(stack: str, where: str, value: Any) -> list[dict]:
    out = []
    for v in value or []:
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) == 1:
                out.append({"target": parts[0], "type": "volume"})
                continue
            source, target = parts[0], parts[1]
            readonly = len(parts) > 2 and "ro" in parts[2].split(",")
            bind = source.startswith(("/", "."))
            out.append({"source": source if bind else f"{stack}_{source}", "target": target,
                        "type": "bind" if bind else "volume", "readonly": readonly})
        elif isinstance(v, dict):
            v = _only(where, v, ("type", "source", "target", "read_only"))
            kind = v.get("type") or "volume"
            source = v.get("source")
            if source and kind == "volume":
                source = f"{stack}_{source}"
            out.append({"source": source, "target": v.get("target"), "type": kind,
                        "readonly": bool(v.get("read_only"))})
        else:
            raise SpecError(f"{where}: each volume is 'SOURCE:TARGET[:ro]' or a mapping, got {v!r}")
    return out


def _resources(where: str, value: Any) -> dict | None:
    value = _only(where, value, ("cpus", "memory"))
    return {"cpus": value.get("cpus"), "memory": value.get("memory")} if value else None


def service_params(stack: str, name: str, svc: Any, networks: dict[str, str],
                   files: dict[str, dict[str, str]] | None = None) -> dict:
    """The swarm_service options for one compose service. `networks` and `files` (secrets,
    configs) map the file's names to the real ones."""
    files = files or {}
    where = f"services.{name}"
    svc = _only(where, svc, SERVICE_KEYS)
    deploy = _only(f"{where}.deploy", svc.get("deploy"), DEPLOY_KEYS)
    placement = _only(f"{where}.deploy.placement", deploy.get("placement"),
                      ("constraints", "preferences", "max_replicas_per_node"))
    resources = _only(f"{where}.deploy.resources", deploy.get("resources"), ("limits", "reservations"))
    restart = _only(f"{where}.deploy.restart_policy", deploy.get("restart_policy"),
                    ("condition", "delay", "max_attempts", "window"))
    health = _only(f"{where}.healthcheck", svc.get("healthcheck"),
                   ("test", "interval", "timeout", "retries", "start_period"))
    if not svc.get("image"):
        raise SpecError(f"{where}.image: required")
    mode = deploy.get("mode") or "replicated"
    p: dict[str, Any] = {
        "name": f"{stack}_{name}", "state": "present", "image": svc["image"], "force": False,
        "command": split_command(svc["entrypoint"]) if svc.get("entrypoint") is not None else None,
        "args": split_command(svc["command"]) if svc.get("command") is not None else None,
        "env": svc.get("environment") if svc.get("environment") is not None else [],
        "mode": mode,
        "replicas": (deploy.get("replicas", 1) if mode == "replicated" else deploy.get("replicas")),
        "labels": {k: str(v) for k, v in as_mapping(f"{where}.deploy.labels", deploy.get("labels")).items()},
        "container_labels": as_mapping(f"{where}.labels", svc.get("labels")),
        "publish": list(svc.get("ports") or []),
        "endpoint_mode": deploy.get("endpoint_mode") or "vip",
        "constraints": list(placement.get("constraints") or []),
        "placement_preferences": [{"spread": pref["spread"]} if isinstance(pref, dict) else pref
                                  for pref in placement.get("preferences") or []],
        "max_replicas_per_node": placement.get("max_replicas_per_node"),
        "limits": _resources(f"{where}.deploy.resources.limits", resources.get("limits")),
        "reservations": _resources(f"{where}.deploy.resources.reservations", resources.get("reservations")),
        "restart_policy": {k: (_duration(restart.get(k)) if k in ("delay", "window") else restart.get(k))
                           for k in ("condition", "delay", "max_attempts", "window")} if restart else None,
        "update_config": _flow(f"{where}.deploy.update_config", deploy.get("update_config")),
        "rollback_config": _flow(f"{where}.deploy.rollback_config", deploy.get("rollback_config")),
        "healthcheck": {k: health.get(k) for k in ("test", "interval", "timeout", "retries", "start_period")}
        if health else None,
        "hostname": svc.get("hostname"), "user": svc.get("user"), "workdir": svc.get("working_dir"),
        "stop_grace_period": _duration(svc.get("stop_grace_period")),
        "mounts": _volumes(stack, f"{where}.volumes", svc.get("volumes")),
        "force_update": False,
    }
    nets = []
    for net, opts in _names(svc.get("networks")) or [("default", {})]:
        if net not in networks:
            raise SpecError(f"{where}.networks: {net!r} is not defined in the file's networks")
        entry: dict[str, Any] = {"name": networks[net]}
        if (opts or {}).get("aliases"):
            entry["aliases"] = list(opts["aliases"])
        nets.append(entry)
    p["networks"] = nets
    for kind in ("secrets", "configs"):
        refs = []
        for ref, opts in _names(svc.get(kind)):
            if ref is None:
                raise SpecError(f"{where}.{kind}: each item is a name or a mapping with a source")
            opts = _only(f"{where}.{kind}.{ref}", opts, ("source", "target", "uid", "gid", "mode"))
            if ref not in files.get(kind, {}):
                raise SpecError(f"{where}.{kind}: {ref!r} is not defined in the file's {kind}")
            item = {"name": files[kind][ref], "target": opts.get("target") or ref}
            for key in ("uid", "gid"):
                if opts.get(key) is not None:
                    item[key] = str(opts[key])
            if opts.get("mode") is not None:
                mode_value = opts["mode"]
                item["mode"] = mode_value if isinstance(mode_value, int) else int(str(mode_value), 8)
            refs.append(item)
        p[kind] = refs
    return p


def translate(stack: str, compose: Any) -> dict:
    """{networks: {real name: options}, files: [(kind, real name, spec)], services: {real name: params}}."""
    compose = _only("compose", compose, TOP_KEYS)
    if not compose.get("services"):
        raise SpecError("compose: a stack needs at least one service under services")
    networks: dict[str, dict] = {}
    real: dict[str, str] = {}
    for name, opts in (compose.get("networks") or {}).items():
        opts = _only(f"networks.{name}", opts or {}, NETWORK_KEYS)
        if opts.get("external"):
            real[name] = opts.get("name") or name
            continue
        real[name] = opts.get("name") or f"{stack}_{name}"
        ipam = (opts.get("ipam") or {}).get("config") or [{}]
        driver_opts = dict(opts.get("driver_opts") or {})
        encrypted = "encrypted" in driver_opts
        driver_opts.pop("encrypted", None)
        networks[real[name]] = {
            "name": real[name], "state": "present", "driver": opts.get("driver") or "overlay",
            "attachable": opts.get("attachable"), "internal": opts.get("internal"),
            "encrypted": True if encrypted else None, "subnet": ipam[0].get("subnet"),
            "gateway": ipam[0].get("gateway"), "driver_options": driver_opts or None,
            "labels": {**{k: str(v) for k, v in (opts.get("labels") or {}).items()},
                       "com.docker.stack.namespace": stack},
        }
    files = []
    file_names: dict[str, dict[str, str]] = {"secrets": {}, "configs": {}}
    for kind in ("secrets", "configs"):
        for name, opts in (compose.get(kind) or {}).items():
            opts = _only(f"{kind}.{name}", opts or {}, FILE_KEYS)
            if opts.get("external"):
                file_names[kind][name] = opts.get("name") or name
                continue
            if kind == "secrets" and "content" in opts:
                raise SpecError(f"secrets.{name}: content would be logged with the compose file; use file (a "
                                "path on the manager) or external: true with a secret made by swarm_secret")
            if not (opts.get("file") or opts.get("content") is not None):
                raise SpecError(f"{kind}.{name}: give file (a path on the manager), content, or external: true")
            file_names[kind][name] = opts.get("name") or f"{stack}_{name}"
            files.append((kind[:-1], file_names[kind][name], opts))
    services = {}
    uses_default = False
    for name, svc in compose["services"].items():
        if not (svc or {}).get("networks"):
            uses_default = True
        services[f"{stack}_{name}"] = service_params(stack, name, svc, {**real, "default": f"{stack}_default"},
                                                     file_names)
    if uses_default and "default" not in real:
        networks[f"{stack}_default"] = {"name": f"{stack}_default", "state": "present", "driver": "overlay",
                                        "attachable": None, "internal": None, "encrypted": None, "subnet": None,
                                        "gateway": None, "driver_options": None,
                                        "labels": {"com.docker.stack.namespace": stack}}
    return {"networks": networks, "files": files, "services": services}


# --- several files, merged as `docker stack deploy -c a.yml -c b.yml` merges them -----------------
#
# docker/cli's compose loader merges each later file into the result so far:
# - top level: `services` merge service by service (below); `networks`, `volumes`, `secrets`
#   and `configs` merge name by name, a later definition replacing an earlier one whole;
#   other keys (version, name) are overridden.
# - within a service: mappings merge key by key and scalars are overridden; `command` and
#   `entrypoint` are replaced; `environment` and `labels` (service and deploy) merge as mappings
#   in either spelling; `volumes` merge by target, `secrets` and `configs` by source, `ports`
#   by the whole port (identical ones collapse, others add up); `networks` merge by name, a
#   later entry's aliases replacing the earlier ones; other lists (placement constraints and
#   preferences) are appended, skipping exact repeats.
# - a key given as null (`command:`) does not override, as in docker/cli.
# swarmops replaces `healthcheck.test` (docker/cli's loader appends it, which makes no sense
# for a command) and keeps the first file's order of list items rather than sorting them.

Path = tuple[str, ...]

_REPLACED: frozenset[Path] = frozenset({("command",), ("entrypoint",), ("healthcheck", "test")})
_MAPPINGS: frozenset[Path] = frozenset({("environment",), ("labels",), ("deploy", "labels")})


def _volume_key(item: Any) -> Any:
    if isinstance(item, str):
        parts = item.split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    return item.get("target") if isinstance(item, dict) else repr(item)


def _ref_key(item: Any) -> Any:
    return item.get("source") if isinstance(item, dict) else item


def _port_key(item: Any) -> Any:
    try:
        return tuple(sorted(parse_port(item).items()))
    except SpecError:  # left for translate() to report with the service's name
        return repr(item)


_KEYED: dict[Path, Callable[[Any], Any]] = {
    ("ports",): _port_key, ("volumes",): _volume_key, ("secrets",): _ref_key, ("configs",): _ref_key,
}


def _merge_keyed(base: list, over: list, key: Callable[[Any], Any]) -> list:
    """Items of `over` replace those of `base` with the same key, in place; new ones are added."""
    out = {key(item): item for item in base}
    for item in over:
        out[key(item)] = copy.deepcopy(item)
    return list(out.values())


def _merge_networks(where: str, base: Any, over: Any) -> Any:
    def as_dict(value: Any) -> dict:
        if isinstance(value, dict):
            return {k: (dict(v) if isinstance(v, dict) else v) for k, v in value.items()}
        if isinstance(value, list):
            return dict.fromkeys(value)
        raise SpecError(f"{where}: expected a list of names or a mapping, got {value!r}")

    out = as_dict(base)
    for name, opts in as_dict(over).items():
        if opts or name not in out:
            out[name] = {**(out.get(name) or {}), **copy.deepcopy(opts)} if opts else out.get(name)
    if isinstance(base, list) and isinstance(over, list):
        return list(out)
    return out


def _merge_value(where: str, path: Path, base: Any, over: Any) -> Any:
    if path in _REPLACED:
        return copy.deepcopy(over)
    if path in _MAPPINGS:
        return {**as_mapping(where, base), **as_mapping(where, over)}
    if path in _KEYED and isinstance(base, list) and isinstance(over, list):
        return _merge_keyed(base, over, _KEYED[path])
    if path == ("networks",):
        return _merge_networks(where, base, over)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            if value is None:
                continue
            out[key] = (_merge_value(f"{where}.{key}", (*path, key), out[key], value)
                        if out.get(key) is not None else copy.deepcopy(value))
        return out
    if isinstance(base, list) and isinstance(over, list):
        return base + [copy.deepcopy(item) for item in over if item not in base]
    return copy.deepcopy(over)


def merge_compose(docs: list[dict], names: list[str] | None = None) -> dict:
    """Several compose files (as dicts), each later one merged into the ones before it as
    `docker stack deploy -c ... -c ...` does. `names` (one per doc) label errors."""
    names = names or [f"file {i + 1}" for i in range(len(docs))]
    if not docs:
        raise SpecError("compose_files: give at least one file")
    out: dict[str, Any] = {}
    for doc, name in zip(docs, names, strict=True):
        if not isinstance(doc, dict):
            raise SpecError(f"{name}: expected a compose mapping at the top, got {type(doc).__name__}")
        for key, value in doc.items():
            if value is None:
                continue
            if key in ("services", "networks", "volumes", "secrets", "configs"):
                if not isinstance(value, dict):
                    raise SpecError(f"{name}: {key} must be a mapping, got {type(value).__name__}")
                section = dict(out.get(key) or {})
                for item, spec in value.items():
                    if key == "services" and spec is None and item in section:
                        continue
                    if key == "services" and isinstance(section.get(item), dict) and isinstance(spec, dict):
                        section[item] = _merge_value(f"{name}: services.{item}", (), section[item], spec)
                    else:
                        section[item] = copy.deepcopy(spec)
                out[key] = section
            else:
                out[key] = copy.deepcopy(value)
    return out


def drop_extensions(doc: dict) -> dict:
    """Compose's `x-` keys (at the top and in services) carry YAML anchors; docker ignores them."""
    out = {k: v for k, v in doc.items() if not str(k).startswith("x-")}
    if isinstance(out.get("services"), dict):
        out["services"] = {name: ({k: v for k, v in svc.items() if not str(k).startswith("x-")}
                                  if isinstance(svc, dict) else svc)
                           for name, svc in out["services"].items()}
    return out


def resolve_file_paths(doc: dict, base_dir: str) -> dict:
    """Relative `file` paths of secrets and configs, relative to `base_dir` (docker stack deploy
    resolves them against the first compose file's directory)."""
    out = dict(doc)
    for kind in ("secrets", "configs"):
        section = out.get(kind)
        if not isinstance(section, dict):
            continue
        out[kind] = {name: ({**opts, "file": os.path.normpath(os.path.join(base_dir, opts["file"]))}
                            if isinstance(opts, dict) and isinstance(opts.get("file"), str)
                            and not os.path.isabs(opts["file"]) else opts)
                     for name, opts in section.items()}
    return out


def parse_compose_text(where: str, text: str) -> dict:
    """One compose file's text -> dict; errors name `where` (the option and the path)."""
    try:
        import yaml
    except ImportError:
        raise SpecError(f"{where}: reading compose files needs PyYAML on the manager (Debian: python3-yaml)") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: expected a compose mapping at the top, got {type(doc).__name__}")
    return drop_extensions(doc)


def load_compose_files(paths: list[str], option: str = "compose_files") -> dict:
    """Read, parse and merge compose files on this host (the manager the module runs on)."""
    if not paths:
        raise SpecError(f"{option}: give at least one file")
    docs, names = [], []
    for i, path in enumerate(paths):
        where = f"{option}[{i}] ({path})"
        if not os.path.isabs(path):
            raise SpecError(f"{where}: not an absolute path; give the file's full path on the manager")
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            raise SpecError(f"{where}: no such file on the manager") from None
        except UnicodeDecodeError as exc:
            raise SpecError(f"{where}: not UTF-8 text: {exc}") from None
        except OSError as exc:
            raise SpecError(f"{where}: cannot read it on the manager: {exc.strerror or exc}") from None
        docs.append(parse_compose_text(where, text))
        names.append(where)
    return resolve_file_paths(merge_compose(docs, names), os.path.dirname(paths[0]))
