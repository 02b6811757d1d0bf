"""Versioned secrets and configs: the one implementation behind swarm_secret and swarm_config.

The engine cannot change a secret's or a config's content, nor remove one a service uses. So a
name is a series of versions: `NAME.v1`, `NAME.v2`, ... each labelled `swarmops.name=NAME`,
`swarmops.version=N` and `swarmops.digest=SALT$SHA256(SALT+DATA)` (the engine never returns a
secret's data, so the digest is how a change is seen; configs are also compared by their data).
A change of content creates the next version, moves every service that mounts an older version
to it (same target file, uid, gid, mode), waits for them, and removes versions beyond
`keep_versions` that no service uses any more.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from .service import NAME_LABEL, VERSION_LABEL, find_service, wait_converged
from .spec import get_path

DIGEST_LABEL = "swarmops.digest"
KINDS = {
    "secret": {"ref": "Secrets", "id": "SecretID", "name": "SecretName", "list": "secrets",
               "create": "create_secret", "remove": "remove_secret", "inspect": "inspect_secret"},
    "config": {"ref": "Configs", "id": "ConfigID", "name": "ConfigName", "list": "configs",
               "create": "create_config", "remove": "remove_config", "inspect": "inspect_config"},
}


def digest(data: bytes, salt: str | None = None) -> str:
    salt = salt if salt is not None else base64.b16encode(os.urandom(8)).decode().lower()
    return f"{salt}${hashlib.sha256(salt.encode() + data).hexdigest()}"


def same_data(obj: dict, data: bytes) -> bool | None:
    """Does a stored version hold `data`? None when it cannot be told (no digest, no data)."""
    stored = get_path(obj, ("Spec", "Data"))
    if stored is not None:
        return base64.b64decode(stored) == data
    label = (get_path(obj, ("Spec", "Labels")) or {}).get(DIGEST_LABEL)
    if not label or "$" not in label:
        return None
    salt = label.split("$", 1)[0]
    return digest(data, salt) == label


def versions(objs: list[dict], name: str) -> list[tuple[int, dict]]:
    """The versions of `name`, oldest first; an unlabelled object called exactly `name` is version 0."""
    out = []
    for o in objs:
        labels = get_path(o, ("Spec", "Labels")) or {}
        if labels.get(NAME_LABEL) == name:
            out.append((int(labels.get(VERSION_LABEL, "0")), o))
        elif get_path(o, ("Spec", "Name")) == name and NAME_LABEL not in labels:
            out.append((0, o))
    return sorted(out, key=lambda pair: pair[0])


def users(services: list[dict], kind: str, ids: set[str]) -> dict[str, list[str]]:
    """service name -> the ids of `ids` it mounts."""
    k = KINDS[kind]
    out: dict[str, list[str]] = {}
    for s in services:
        refs = get_path(s, ("Spec", "TaskTemplate", "ContainerSpec", k["ref"])) or []
        hit = [r[k["id"]] for r in refs if r.get(k["id"]) in ids]
        if hit:
            out[get_path(s, ("Spec", "Name"))] = hit
    return out


def repoint(spec: dict, kind: str, old_ids: set[str], new_id: str, new_name: str) -> dict:
    """A copy of a service spec whose references to `old_ids` point at the new version."""
    import copy

    k = KINDS[kind]
    spec = copy.deepcopy(spec)
    for ref in get_path(spec, ("TaskTemplate", "ContainerSpec", k["ref"])) or []:
        if ref.get(k["id"]) in old_ids:
            ref[k["id"]], ref[k["name"]] = new_id, new_name
    return spec


def plan(name: str, state: str, data: bytes | None, vers: list[tuple[int, dict]],
         used: dict[str, list[str]], keep: int) -> dict:
    """{create: (version, name) | None, move: [services], remove: [(version, id, name)], error}."""
    result: dict[str, Any] = {"create": None, "move": [], "remove": [], "error": None, "latest": None}
    all_ids = {o["ID"] for _ver, o in vers}
    if state == "absent":
        if used:
            result["error"] = (f"{name} is used by the service(s) {', '.join(sorted(used))}; "
                               "remove them or their reference first")
            return result
        result["remove"] = [(v, o["ID"], get_path(o, ("Spec", "Name"))) for v, o in vers]
        return result
    if data is None:
        raise AssertionError("state=present needs data")
    latest = vers[-1] if vers else None
    if latest is None or same_data(latest[1], data) is not True:
        number = (latest[0] if latest else 0) + 1
        result["create"] = (number, f"{name}.v{number}")
        result["latest"] = None
        keep_ids: set[str] = set()
    else:
        result["latest"] = latest[1]["ID"]
        keep_ids = {latest[1]["ID"]}
    old_ids = all_ids - keep_ids
    result["move"] = sorted(s for s, ids in used.items() if set(ids) & old_ids)
    # Old versions to remove: beyond `keep` newest (counting a new one), once no service uses them.
    kept = max(keep - (1 if result["create"] else 0), 0)
    older = vers[:-kept] if kept else list(vers)
    if not result["create"] and latest is not None:
        older = [pair for pair in older if pair[1]["ID"] != latest[1]["ID"]]
    result["remove"] = [(v, o["ID"], get_path(o, ("Spec", "Name"))) for v, o in older]
    return result


def settle(kind: str, name: str, state: str, data: bytes | None, vers: list[tuple[int, dict]],
           used: dict[str, list[str]], keep: int = 2,
           update_services: bool = True) -> tuple[dict, list[dict], list[str]]:
    """What converge does, as data: the plan (old versions still in use after the moves are kept
    out of its removals), its changes, and the names of the versions kept because in use."""
    the_plan = plan(name, state, data, vers, used, keep)
    if state == "present" and not update_services:
        the_plan["move"] = []
    in_use_after = {i for s, ids in used.items() if s not in the_plan["move"] for i in ids}
    skipped = [n for _ver, i, n in the_plan["remove"] if i in in_use_after]
    the_plan["remove"] = [(v, i, n) for v, i, n in the_plan["remove"] if i not in in_use_after]
    changes = []
    if the_plan["create"]:
        before = get_path(vers[-1][1], ("Spec", "Name")) if vers else None
        changes.append({"field": kind, "before": before, "after": the_plan["create"][1]})
    changes += [{"field": "service", "before": s, "after": f"{s} (moved to the new version)"} for s in the_plan["move"]]
    changes += [{"field": "removed_version", "before": n, "after": None} for _ver, _oid, n in the_plan["remove"]]
    return the_plan, changes, skipped


# --- the module body shared by swarm_secret and swarm_config -------------------------------

def read_data(module: Any, p: dict) -> bytes | None:
    if p.get("state") == "absent":
        return None
    if p.get("src"):
        try:
            with open(p["src"], "rb") as fh:
                return fh.read()
        except OSError as exc:
            module.fail_json(msg=f"src: cannot read {p['src']} on the managed host: {exc}")
    data = p.get("data")
    if data is None:
        module.fail_json(msg="data or src is required with state present")
    if p.get("data_is_b64"):
        try:
            return base64.b64decode(data, validate=True)
        except ValueError as exc:
            module.fail_json(msg=f"data: not valid base64 (data_is_b64 is true): {exc}")
    return data.encode()


def run(module: Any, client: Any, kind: str) -> None:
    """The body of swarm_secret / swarm_config."""
    p = module.params
    if p["keep_versions"] < 1:
        module.fail_json(msg=f"keep_versions: must be at least 1, got {p['keep_versions']}")
    result = converge(client, kind, p["name"], read_data(module, p), state=p["state"], labels=p["labels"],
                      keep=p["keep_versions"], update_services=p["update_services"], wait=p["wait"],
                      wait_timeout=p["wait_timeout"], check_mode=module.check_mode)
    error = result.pop("error")
    if error:
        module.fail_json(msg=error, **result)
    module.exit_json(**result)


def converge(client: Any, kind: str, name: str, data: bytes | None, *, state: str = "present",
             labels: dict | None = None, keep: int = 2, update_services: bool = True, wait: bool = True,
             wait_timeout: float = 120, check_mode: bool = False) -> dict:
    """Make `name` hold `data` (or be absent); returns the result, with `error` set on failure."""
    k = KINDS[kind]
    objs = client.call(f"listing {kind}s", getattr(client.api, k["list"]))
    vers = versions(objs, name)
    services = client.call("listing services", client.api.services)
    used = users(services, kind, {o["ID"] for _ver, o in vers})
    the_plan, changes, skipped = settle(kind, name, state, data, vers, used, keep, update_services)
    result: dict[str, Any] = {
        "changed": bool(changes), "changes": changes, "updated_services": the_plan["move"],
        "removed_versions": [n for _ver, _oid, n in the_plan["remove"]], "kept_in_use": skipped,
        "diff": {"before": "".join(f"{c['field']}: {c['before']}\n" for c in changes if c["before"]),
                 "after": "".join(f"{c['field']}: {c['after']}\n" for c in changes if c["after"])},
        "error": the_plan["error"],
    }
    if the_plan["error"] or check_mode:
        return result

    if the_plan["create"]:
        if data is None:
            raise AssertionError("state=present needs data")
        # plan() sets "create" to a (number, name) pair whenever it is truthy.
        number, full = the_plan["create"]  # pylint: disable=unpacking-non-sequence
        all_labels = {**{k2: str(v) for k2, v in (labels or {}).items()},
                      NAME_LABEL: name, VERSION_LABEL: str(number), DIGEST_LABEL: digest(data)}
        created = client.call(f"creating {kind} {full}", getattr(client.api, k["create"]), full, data, all_labels)
        new_id = created["ID"] if isinstance(created, dict) else created
        new_name = full
    elif the_plan["latest"]:
        new_id = the_plan["latest"]
        new_name = next(get_path(o, ("Spec", "Name")) for _ver, o in vers if o["ID"] == new_id)
    else:
        new_id = new_name = None
    if new_id:
        result[kind] = {"id": new_id, "name": new_name, "logical_name": name}

    old_ids = {o["ID"] for _ver, o in vers} - {new_id}
    waits = {}
    for sname in the_plan["move"]:
        def attempt(sname: str = sname) -> str:
            current = find_service(client, sname)
            spec = repoint(current["Spec"], kind, old_ids, new_id, new_name)
            client.post_json(f"/services/{current['ID']}/update", params={"version": current["Version"]["Index"]},
                             data=spec)
            return current["ID"]
        sid = client.retry_write(f"moving service {sname} to {new_name}", attempt)
        if wait:
            waited, _tasks, _failed = wait_converged(client, sid, wait_timeout)
            waits[sname] = waited.as_result()
            if not waited.ok:
                result["waits"] = waits
                result["error"] = (f"service {sname} did not converge on {new_name}: "
                                   f"{waited.last.failed or waited.last.summary}")
                return result
    if waits:
        result["waits"] = waits
    for _ver, oid, oname in the_plan["remove"]:
        client.call(f"removing {kind} {oname}", getattr(client.api, k["remove"]), oid)
    return result


def argument_options(secret: bool) -> dict[str, dict[str, Any]]:
    return {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "data": {"type": "str", "no_log": secret},
        "data_is_b64": {"type": "bool", "default": False},
        "src": {"type": "path"},
        "labels": {"type": "dict"},
        "keep_versions": {"type": "int", "default": 2},
        "update_services": {"type": "bool", "default": True},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 120},
    }
