"""Desired-vs-actual as data.

A spec is described by a table of `Field`s. Each row names the module option(s) it comes from,
where it lives in the Engine API object, how an option value becomes an API value, and how a
value (from either side) is normalised before comparing. Three functions walk a table:

- `validate(table, params)`  -> error messages for bad values (nothing is sent to the engine)
- `build(table, params, current, ctx)` -> the desired API object: the current one (so that
  engine-side defaults and options the user did not give are kept) with every given option set
- `diff(table, before, after, only)` -> the changes, field by field, in the operator's words

Only options the user gave are compared, so engine defaults (e.g. `UpdateConfig.Order`
filled in as `stop-first`) never show up as a change. The service table is `SERVICE_FIELDS`.

Pure Python, no Ansible and no Docker SDK: the unit tests drive it without an engine.
"""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]
NS = 1_000_000_000


class SpecError(ValueError):
    """A bad option value; the message names the option and what is allowed."""


def _identity(value: Any, ctx: dict | None = None) -> Any:
    return value


@dataclass(frozen=True)
class Field:
    """One comparable piece of an API object.

    name:      the operator's name for it, used in diffs (e.g. "update_config.parallelism")
    options:   option paths (dotted) it is built from; the field is "given" when any is not None
    path:      where it lives in the API object
    to_api:    option value (or a dict of values when several options) -> API value
    norm:      API value (either side, possibly None) -> comparable value
    check:     option value -> raises SpecError when bad
    """

    name: str
    path: Path
    options: tuple[str, ...] = ()
    to_api: Callable[[Any, dict], Any] = _identity
    norm: Callable[[Any], Any] = lambda v: v
    check: Callable[[Any], None] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def opts(self) -> tuple[str, ...]:
        return self.options or (self.name,)


# --- walking --------------------------------------------------------------------------------

def get_path(obj: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def set_path(obj: dict, path: Path, value: Any) -> None:
    for key in path[:-1]:
        nxt = obj.get(key)
        if not isinstance(nxt, dict):
            nxt = obj[key] = {}
        obj = nxt
    obj[path[-1]] = value


def get_option(params: dict, dotted: str) -> Any:
    value: Any = params
    for key in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def option_value(f: Field, params: dict) -> Any:
    """The field's option value, a dict of values for a multi-option field, None if not given."""
    if len(f.opts) == 1:
        return get_option(params, f.opts[0])
    values = {o.rsplit(".", 1)[-1]: get_option(params, o) for o in f.opts}
    return values if any(v is not None for v in values.values()) else None


def validate(table: list[Field], params: dict) -> list[str]:
    errors = []
    for f in table:
        value = option_value(f, params)
        if value is None or f.check is None:
            continue
        try:
            f.check(value)
        except SpecError as exc:
            errors.append(str(exc))
    return errors


def build(table: list[Field], params: dict, current: dict | None, ctx: dict | None = None) -> dict:
    """The desired object: `current` with every given option set (a new dict)."""
    ctx = dict(ctx or {})
    ctx.setdefault("current", current or {})
    desired = copy.deepcopy(current) if current else {}
    for f in table:
        value = option_value(f, params)
        if value is None:
            continue
        set_path(desired, f.path, f.to_api(value, ctx))
    return desired


def given(table: list[Field], params: dict) -> set[str]:
    return {f.name for f in table if option_value(f, params) is not None}


def diff(table: list[Field], before: dict | None, after: dict, only: set[str] | None = None) -> list[dict]:
    """Changes from `before` to `after` as [{field, before, after}] (normalised values)."""
    changes = []
    for f in table:
        if only is not None and f.name not in only:
            continue
        old = f.norm(get_path(before, f.path)) if before is not None else None
        new = f.norm(get_path(after, f.path))
        if before is None or old != new:
            changes.append({"field": f.name, "before": old, "after": new})
    return changes


def diff_text(changes: list[dict]) -> tuple[str, str]:
    """Ansible's before/after diff as two YAML-ish texts, one line per changed field."""
    before = "".join(f"{c['field']}: {c['before']!r}\n" for c in changes if c["before"] is not None)
    after = "".join(f"{c['field']}: {c['after']!r}\n" for c in changes)
    return before, after


# --- parsers and checks (shared by every table) ---------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": NS, "m": 60 * NS, "h": 3600 * NS}


def duration_ns(value: Any, option: str = "duration") -> int:
    """'1m30s', '500ms', '10' (seconds) or 10 -> nanoseconds."""
    if isinstance(value, bool):
        raise SpecError(f"{option}: expected a duration like 10s, 1m30s or 500ms, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise SpecError(f"{option}: must not be negative, got {value!r}")
        return int(value * NS)
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text) * NS)
    pos, total = 0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(float(m.group(1)) * _UNITS[m.group(2)])
        pos = m.end()
    if pos != len(text) or not text:
        raise SpecError(f"{option}: expected a duration like 10s, 1m30s or 500ms, got {value!r}")
    return total


def duration_text(ns: Any) -> str:
    """Nanoseconds (or None) -> one canonical text per value, for diffs: 90s, 1500ms, 0s."""
    ns = int(ns or 0)
    for unit, size in (("s", NS), ("ms", 1_000_000), ("us", 1_000)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def size_bytes(value: Any, option: str = "size") -> int:
    """'64M', '1g', '512k' or 1048576 -> bytes (binary units, as the docker CLI)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise SpecError(f"{option}: must not be negative, got {value!r}")
        return value
    m = _SIZE.fullmatch(str(value).strip())
    if not m:
        raise SpecError(f"{option}: expected a size like 64M, 1G or a number of bytes, got {value!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def nano_cpus(value: Any, option: str = "cpus") -> int:
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{option}: expected a number of CPUs like 0.5 or 2, got {value!r}") from None
    if cpus < 0:
        raise SpecError(f"{option}: must not be negative, got {value!r}")
    return round(cpus * NS)


def non_negative(option: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is not None and value < 0:
            raise SpecError(f"{option}: must not be negative, got {value!r}")
    return check


def one_of(option: str, allowed: tuple[str, ...]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value not in allowed:
            raise SpecError(f"{option}: must be one of {', '.join(allowed)}; got {value!r}")
    return check


def _checked(option: str, fn: Callable[[Any, str], Any]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        fn(value, option)
    return check


def split_command(value: Any) -> list[str]:
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def env_list(value: Any, option: str = "env") -> list[str]:
    """A dict or a list of 'KEY=VALUE' -> the API's list of 'KEY=VALUE'."""
    if isinstance(value, dict):
        return [f"{k}={'' if v is None else v}" for k, v in value.items()]
    out = []
    for item in value:
        if not isinstance(item, str) or "=" not in item or item.startswith("="):
            raise SpecError(f"{option}: list items must be KEY=VALUE strings, got {item!r}")
        out.append(item)
    return out


def env_norm(value: Any) -> dict:
    return dict(item.split("=", 1) for item in value or [])


def image_norm(value: Any) -> str | None:
    """Compare images without a pinned digest and without the default registry/library."""
    if not value:
        return value
    name = value.split("@", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        name += ":latest"
    return name


# --- published ports ------------------------------------------------------------------------

PORT_KEYS = ("published", "target", "protocol", "mode")
PROTOCOLS = ("tcp", "udp", "sctp")
PUBLISH_MODES = ("ingress", "host")
_PORT_STR = re.compile(r"(?:(\d+):)?(\d+)(?:/([a-z]+))?")


def parse_port(item: Any) -> dict:
    """'8080:80', '8080:80/udp', '80' or {published, target, protocol, mode} -> API port dict."""
    if isinstance(item, (str, int)) and not isinstance(item, bool):
        m = _PORT_STR.fullmatch(str(item).strip())
        if not m:
            raise SpecError(f"publish: bad port {item!r}; use PUBLISHED:TARGET[/tcp|udp|sctp], TARGET, "
                            f"or a dict with keys {', '.join(PORT_KEYS)}")
        item = {"published": m.group(1), "target": m.group(2), "protocol": m.group(3)}
    if not isinstance(item, dict):
        raise SpecError(f"publish: each port is a string or a dict, got {item!r}")
    unknown = set(item) - set(PORT_KEYS)
    if unknown:
        raise SpecError(f"publish: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(PORT_KEYS)}")
    protocol = item.get("protocol") or "tcp"
    mode = item.get("mode") or "ingress"
    if protocol not in PROTOCOLS:
        raise SpecError(f"publish: protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    if mode not in PUBLISH_MODES:
        raise SpecError(f"publish: mode must be one of {', '.join(PUBLISH_MODES)}; got {mode!r}")
    port: dict[str, Any] = {"Protocol": protocol, "PublishMode": mode}
    for key, api in (("target", "TargetPort"), ("published", "PublishedPort")):
        raw = item.get(key)
        if raw is None or raw == "":
            if key == "target":
                raise SpecError(f"publish: target is required in {item!r}")
            continue
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise SpecError(f"publish: {key} must be a port number 1-65535, got {raw!r}") from None
        if not 1 <= number <= 65535:
            raise SpecError(f"publish: {key} must be a port number 1-65535, got {raw!r}")
        port[api] = number
    return port


def ports_norm(ports: Any) -> list:
    return sorted((p.get("Protocol") or "tcp", p.get("TargetPort"), p.get("PublishedPort") or 0,
                   p.get("PublishMode") or "ingress") for p in ports or [])


def _check_ports(value: Any) -> None:
    for item in value:
        parse_port(item)


# --- references to networks, secrets and configs -------------------------------------------

def _ref_items(value: Any, option: str, keys: tuple[str, ...]) -> list[dict]:
    items = []
    for item in value:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not item.get("name"):
            raise SpecError(f"{option}: each item is a name or a dict with a name, got {item!r}")
        unknown = set(item) - set(keys)
        if unknown:
            raise SpecError(f"{option}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(keys)}")
        items.append(item)
    return items


NETWORK_KEYS = ("name", "aliases")
FILE_REF_KEYS = ("name", "target", "uid", "gid", "mode")


def networks_to_api(value: Any, ctx: dict) -> list[dict]:
    ids = ctx.get("networks", {})
    out = []
    for item in _ref_items(value, "networks", NETWORK_KEYS):
        entry: dict[str, Any] = {"Target": ids.get(item["name"], item["name"])}
        if item.get("aliases"):
            entry["Aliases"] = list(item["aliases"])
        out.append(entry)
    return out


def networks_norm(value: Any) -> list:
    return sorted((n.get("Target"), tuple(sorted(n.get("Aliases") or []))) for n in value or [])


def file_refs_to_api(kind: str) -> Callable[[Any, dict], list[dict]]:
    """secrets/configs -> ContainerSpec.Secrets/Configs; ctx[kind] maps a name to (id, real name)."""
    api_id, api_name = ("SecretID", "SecretName") if kind == "secrets" else ("ConfigID", "ConfigName")

    def to_api(value: Any, ctx: dict) -> list[dict]:
        found = ctx.get(kind, {})
        out = []
        for item in _ref_items(value, kind, FILE_REF_KEYS):
            ref_id, real = found.get(item["name"], (item["name"], item["name"]))
            mode = item.get("mode")
            if isinstance(mode, str):
                mode = int(mode, 8)
            out.append({
                api_id: ref_id, api_name: real,
                "File": {"Name": item.get("target") or item["name"], "UID": str(item.get("uid", "0")),
                         "GID": str(item.get("gid", "0")), "Mode": 0o444 if mode is None else mode},
            })
        return out

    return to_api


def file_refs_norm(value: Any) -> list:
    out = []
    for ref in value or []:
        f = ref.get("File") or {}
        out.append((ref.get("SecretName") or ref.get("ConfigName"), f.get("Name"), f.get("UID"),
                    f.get("GID"), f.get("Mode")))
    return sorted(out)


def _check_refs(option: str, keys: tuple[str, ...]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        for item in _ref_items(value, option, keys):
            mode = item.get("mode")
            if isinstance(mode, str):
                try:
                    int(mode, 8)
                except ValueError:
                    raise SpecError(f"{option}: mode must be octal like '0400', got {mode!r}") from None
    return check


# --- mounts, placement ----------------------------------------------------------------------

MOUNT_KEYS = ("source", "target", "type", "readonly")
MOUNT_TYPES = ("volume", "bind", "tmpfs")


def mounts_to_api(value: Any, ctx: dict) -> list[dict]:
    out = []
    for m in value:
        entry = {"Type": m.get("type") or "volume", "Target": m["target"]}
        if m.get("source"):
            entry["Source"] = m["source"]
        if m.get("readonly"):
            entry["ReadOnly"] = True
        out.append(entry)
    return out


def mounts_norm(value: Any) -> list:
    return sorted((m.get("Type"), m.get("Source") or "", m.get("Target"), bool(m.get("ReadOnly")))
                  for m in value or [])


def _check_mounts(value: Any) -> None:
    for m in value:
        if not isinstance(m, dict):
            raise SpecError(f"mounts: each mount is a dict with keys {', '.join(MOUNT_KEYS)}, got {m!r}")
        unknown = set(m) - set(MOUNT_KEYS)
        if unknown:
            raise SpecError(f"mounts: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(MOUNT_KEYS)}")
        if not m.get("target"):
            raise SpecError(f"mounts: target is required in {m!r}")
        if (m.get("type") or "volume") not in MOUNT_TYPES:
            raise SpecError(f"mounts: type must be one of {', '.join(MOUNT_TYPES)}; got {m.get('type')!r}")


def preferences_to_api(value: Any, ctx: dict) -> list[dict]:
    out = []
    for p in value:
        descriptor = p.split("=", 1)[1] if isinstance(p, str) else p["spread"]
        out.append({"Spread": {"SpreadDescriptor": descriptor}})
    return out


def preferences_norm(value: Any) -> list:
    return [(p.get("Spread") or {}).get("SpreadDescriptor") for p in value or []]


def _check_preferences(value: Any) -> None:
    for p in value:
        ok = (isinstance(p, str) and p.startswith("spread=") and len(p) > 7) or (
            isinstance(p, dict) and set(p) == {"spread"} and p["spread"])
        if not ok:
            raise SpecError("placement_preferences: use 'spread=node.labels.KEY' or "
                            f"{{spread: node.labels.KEY}}, got {p!r}")


_CONSTRAINT = re.compile(r"\s*([\w.\-]+)\s*(==|!=)\s*(.+?)\s*")


def _check_constraints(value: Any) -> None:
    for c in value:
        if not isinstance(c, str) or not _CONSTRAINT.fullmatch(c):
            raise SpecError(f"constraints: expected 'ATTRIBUTE==VALUE' or 'ATTRIBUTE!=VALUE' "
                            f"(e.g. node.role==worker), got {c!r}")


def parse_constraint(text: str) -> tuple[str, str, str]:
    m = _CONSTRAINT.fullmatch(text)
    if not m:
        raise SpecError(f"constraints: bad constraint {text!r}")
    return m.group(1), m.group(2), m.group(3)


# --- service mode ---------------------------------------------------------------------------

MODES = ("replicated", "global", "replicated-job", "global-job")
API_MODES = {"Replicated": "replicated", "Global": "global", "ReplicatedJob": "replicated-job",
             "GlobalJob": "global-job"}


def mode_of(spec_mode: Any) -> str | None:
    for key in spec_mode or {}:
        if key in API_MODES:
            return API_MODES[key]
    return None


def mode_to_api(v: dict, ctx: dict) -> dict:
    current = get_path(ctx.get("current"), ("Mode",)) or {}
    mode = v.get("mode") or mode_of(current) or "replicated"
    if mode == "replicated":
        replicas = v.get("replicas")
        if replicas is None:
            replicas = get_path(current, ("Replicated", "Replicas"))
        return {"Replicated": {"Replicas": 1 if replicas is None else replicas}}
    if mode == "replicated-job":
        concurrent = v.get("max_concurrent") or 1
        total = v.get("total_completions") or concurrent
        return {"ReplicatedJob": {"MaxConcurrent": concurrent, "TotalCompletions": total}}
    return {"GlobalJob": {}} if mode == "global-job" else {"Global": {}}


def check_mode(v: dict) -> None:
    mode = v.get("mode")
    if mode is not None and mode not in MODES:
        raise SpecError(f"mode: must be one of {', '.join(MODES)}; got {mode!r}")
    for key in ("replicas", "max_concurrent", "total_completions"):
        if v.get(key) is not None and v[key] < 0:
            raise SpecError(f"{key}: must not be negative, got {v[key]!r}")
    if v.get("replicas") is not None and mode not in (None, "replicated"):
        raise SpecError(f"replicas: only for mode replicated, not {mode}; a global service runs one "
                        "task per eligible node (use max_concurrent/total_completions for replicated-job)")
    if (v.get("max_concurrent") is not None or v.get("total_completions") is not None) and mode != "replicated-job":
        raise SpecError("max_concurrent/total_completions: only for mode replicated-job")


def mode_norm(value: Any) -> Any:
    if not value:
        return None
    kind = mode_of(value)
    inner = next(iter(value.values())) or {}
    if kind == "replicated":
        return f"replicated ({inner.get('Replicas', 1)} replicas)"
    if kind == "replicated-job":
        return (f"replicated-job (max concurrent {inner.get('MaxConcurrent', 1)}, "
                f"total {inner.get('TotalCompletions', 1)})")
    return kind


# --- the service table ----------------------------------------------------------------------

TT = ("TaskTemplate",)
CS = (*TT, "ContainerSpec")


def _sorted_list(v: Any) -> list:
    return sorted(v or [])


def _dict(v: Any) -> dict:
    return dict(v or {})


def _list(v: Any) -> list:
    return list(v or [])


def _dur(option: str) -> dict:
    # The engine omits zero durations: absent and 0 are the same value, shown as "0s".
    return {"to_api": lambda v, ctx: duration_ns(v, option), "check": _checked(option, duration_ns),
            "norm": duration_text}


def _flow(prefix: str, api: str, actions: tuple[str, ...]) -> list[Field]:
    """update_config / rollback_config: one row per sub-option."""
    return [
        Field(f"{prefix}.parallelism", (api, "Parallelism"), norm=lambda v: v or 0,
              check=non_negative(f"{prefix}.parallelism")),
        Field(f"{prefix}.delay", (api, "Delay"), **_dur(f"{prefix}.delay")),
        Field(f"{prefix}.failure_action", (api, "FailureAction"),
              check=one_of(f"{prefix}.failure_action", actions)),
        Field(f"{prefix}.monitor", (api, "Monitor"), **_dur(f"{prefix}.monitor")),
        Field(f"{prefix}.max_failure_ratio", (api, "MaxFailureRatio"), to_api=lambda v, ctx: float(v),
              norm=lambda v: float(v or 0), check=_check_ratio(f"{prefix}.max_failure_ratio")),
        Field(f"{prefix}.order", (api, "Order"), check=one_of(f"{prefix}.order", ("stop-first", "start-first"))),
    ]


def _check_ratio(option: str) -> Callable[[Any], None]:
    def check(v: Any) -> None:
        if not 0 <= float(v) <= 1:
            raise SpecError(f"{option}: must be between 0 and 1, got {v!r}")
    return check


def _resources(kind: str, api: str) -> list[Field]:
    return [
        Field(f"{kind}.cpus", (*TT, "Resources", api, "NanoCPUs"),
              to_api=lambda v, ctx: nano_cpus(v, f"{kind}.cpus"), norm=lambda v: v or 0,
              check=_checked(f"{kind}.cpus", nano_cpus)),
        Field(f"{kind}.memory", (*TT, "Resources", api, "MemoryBytes"),
              to_api=lambda v, ctx: size_bytes(v, f"{kind}.memory"), norm=lambda v: v or 0,
              check=_checked(f"{kind}.memory", size_bytes)),
    ]


def _healthcheck_test(v: Any, ctx: dict) -> list[str]:
    if isinstance(v, str):
        return ["CMD-SHELL", v]
    return list(v)


SERVICE_FIELDS: list[Field] = [
    Field("image", (*CS, "Image"), norm=image_norm),
    Field("command", (*CS, "Command"), to_api=lambda v, ctx: split_command(v), norm=_list),
    Field("args", (*CS, "Args"), to_api=lambda v, ctx: split_command(v), norm=_list),
    Field("env", (*CS, "Env"), to_api=lambda v, ctx: env_list(v), norm=env_norm,
          check=_checked("env", env_list)),
    Field("user", (*CS, "User"), norm=lambda v: v or ""),
    Field("workdir", (*CS, "Dir"), norm=lambda v: v or ""),
    Field("hostname", (*CS, "Hostname"), norm=lambda v: v or ""),
    Field("container_labels", (*CS, "Labels"), to_api=lambda v, ctx: {k: str(x) for k, x in v.items()}, norm=_dict),
    Field("stop_grace_period", (*CS, "StopGracePeriod"), **_dur("stop_grace_period")),
    Field("mounts", (*CS, "Mounts"), to_api=mounts_to_api, norm=mounts_norm, check=_check_mounts),
    Field("secrets", (*CS, "Secrets"), to_api=file_refs_to_api("secrets"), norm=file_refs_norm,
          check=_check_refs("secrets", FILE_REF_KEYS)),
    Field("configs", (*CS, "Configs"), to_api=file_refs_to_api("configs"), norm=file_refs_norm,
          check=_check_refs("configs", FILE_REF_KEYS)),
    Field("healthcheck.test", (*CS, "Healthcheck", "Test"), to_api=_healthcheck_test, norm=_list),
    Field("healthcheck.interval", (*CS, "Healthcheck", "Interval"), **_dur("healthcheck.interval")),
    Field("healthcheck.timeout", (*CS, "Healthcheck", "Timeout"), **_dur("healthcheck.timeout")),
    Field("healthcheck.retries", (*CS, "Healthcheck", "Retries"), norm=lambda v: v or 0,
          check=non_negative("healthcheck.retries")),
    Field("healthcheck.start_period", (*CS, "Healthcheck", "StartPeriod"), **_dur("healthcheck.start_period")),
    *_resources("limits", "Limits"),
    *_resources("reservations", "Reservations"),
    Field("restart_policy.condition", (*TT, "RestartPolicy", "Condition"),
          check=one_of("restart_policy.condition", ("none", "on-failure", "any"))),
    Field("restart_policy.delay", (*TT, "RestartPolicy", "Delay"), **_dur("restart_policy.delay")),
    Field("restart_policy.max_attempts", (*TT, "RestartPolicy", "MaxAttempts"), norm=lambda v: v or 0,
          check=non_negative("restart_policy.max_attempts")),
    Field("restart_policy.window", (*TT, "RestartPolicy", "Window"), **_dur("restart_policy.window")),
    Field("constraints", (*TT, "Placement", "Constraints"), to_api=lambda v, ctx: list(v),
          norm=_sorted_list, check=_check_constraints),
    Field("placement_preferences", (*TT, "Placement", "Preferences"), to_api=preferences_to_api,
          norm=preferences_norm, check=_check_preferences),
    Field("max_replicas_per_node", (*TT, "Placement", "MaxReplicas"), norm=lambda v: v or 0,
          check=non_negative("max_replicas_per_node")),
    Field("networks", (*TT, "Networks"), to_api=networks_to_api, norm=networks_norm,
          check=lambda v: _ref_items(v, "networks", NETWORK_KEYS) and None),
    Field("force_update", (*TT, "ForceUpdate"),
          to_api=lambda v, ctx: (get_path(ctx.get("current"), (*TT, "ForceUpdate")) or 0) + (1 if v else 0),
          norm=lambda v: v or 0),
    Field("mode", ("Mode",), options=("mode", "replicas", "max_concurrent", "total_completions"),
          to_api=mode_to_api, norm=mode_norm, check=check_mode),
    Field("labels", ("Labels",), to_api=lambda v, ctx: {k: str(x) for k, x in v.items()}, norm=_dict),
    *_flow("update_config", "UpdateConfig", ("continue", "pause", "rollback")),
    *_flow("rollback_config", "RollbackConfig", ("continue", "pause")),
    Field("endpoint_mode", ("EndpointSpec", "Mode"), norm=lambda v: v or "vip",
          check=one_of("endpoint_mode", ("vip", "dnsrr"))),
    Field("publish", ("EndpointSpec", "Ports"), to_api=lambda v, ctx: [parse_port(p) for p in v],
          norm=ports_norm, check=_check_ports),
]
