#!/usr/bin/python
"""swarm_stack: deploy a compose file as a Docker Swarm stack, natively (no docker CLI)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_stack
short_description: Deploy, update, prune and remove a Docker Swarm stack from a compose file
description:
  - Deploys the services, networks, secrets and configs of a compose file (given as data, so
    the calling role can template it with Jinja2) through the same code as M(swarm_service),
    M(swarm_network), M(swarm_secret) and M(swarm_config); it does not shell out to
    C(docker stack deploy) and needs no docker CLI.
  - Objects are named C(STACK_NAME) and labelled C(com.docker.stack.namespace=STACK), as
    C(docker stack deploy) does, so M(swarm_service) recognises them and leaves them alone. A
    service without networks joins C(STACK_default).
  - Each service is compared field by field; an unchanged file is C(changed=false). With
    I(prune), services (and then unused networks) of the stack that the file no longer has are
    removed.
  - Secrets and configs are versioned as by M(swarm_secret); new content moves the services to
    the new version. A secret comes from C(file) (a path on the manager) or is C(external)
    (made by M(swarm_secret), whose data is no_log); inline C(content) is refused for secrets,
    since it would be logged with the compose file. Configs may use C(file), C(content) or C(external).
  - Supported compose keys - services - image, command, entrypoint, environment, ports, networks,
    secrets, configs, volumes, labels, healthcheck, hostname, user, working_dir,
    stop_grace_period, deploy (mode, replicas, resources, placement, update_config,
    rollback_config, restart_policy, labels, endpoint_mode). Other keys are refused with a
    message naming them.
  - Run it on a manager.
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  name:
    description: Stack name (the namespace).
    type: str
    required: true
  state:
    description: C(present) deploys, C(absent) removes the stack's services and networks (and its secrets and configs).
    type: str
    choices: [present, absent]
    default: present
  compose:
    description:
      - The compose file's content as data, e.g. C(lookup('template', 'stack.yml.j2') | from_yaml).
      - With I(state=present), one of I(compose) and I(compose_files) is required; they are mutually exclusive.
    type: dict
  compose_files:
    description:
      - Compose files to deploy, as C(docker stack deploy -c a.yml -c b.yml) takes them - absolute
        paths on the managed host (the manager the module runs on), not on the controller. To deploy
        controller files, copy them there first with M(ansible.builtin.copy), or pass one file's
        content as I(compose) through the C(file) lookup and the C(from_yaml) filter (see EXAMPLES).
      - Later files are merged into earlier ones as docker/cli's compose loader does - services
        merge key by key, scalars and C(command)/C(entrypoint) are replaced, C(environment) and
        C(labels) merge as mappings (list or mapping spelling), C(volumes) merge by target,
        C(secrets) and C(configs) by source, C(ports) by the whole port, C(networks) by name;
        top-level networks, volumes, secrets and configs are replaced name by name.
      - Relative C(file) paths of secrets and configs are resolved against the first file's
        directory, as docker does. C(x-) extension keys (anchors) at the top and in services are
        dropped. Variable interpolation (C(${VAR})), C(.env) files and C(extends) are not
        supported; C(${VAR}) is passed on as written.
      - Reading the files needs PyYAML on the manager (Debian package python3-yaml). Errors name
        the option, the file's index and its path (missing, unreadable, not YAML, not a mapping).
    type: list
    elements: path
  prune:
    description: Remove the stack's services and networks that the file no longer has.
    type: bool
    default: true
  wait:
    description: Wait for every created or updated service to converge.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait at most, per service.
    type: int
    default: 180
notes:
  - Supports check mode and diff mode.
  - Secret and config files named with C(file) are read on the managed host (the manager).
  - Options a service's compose entry leaves out keep the engine's current value, except lists
    (environment, ports, networks, secrets, configs, volumes, constraints, labels), which are set
    to exactly what the file says.
"""

EXAMPLES = r"""
- name: Deploy the shop stack from a templated compose file
  swarm_stack:
    name: shop
    compose: "{{ lookup('template', 'shop.yml.j2') | from_yaml }}"

- name: Put the compose files on the manager
  ansible.builtin.copy:
    src: "{{ item }}"
    dest: /srv/shop/
    mode: "0644"
  loop: [shop.yml, shop.prod.yml]

- name: Deploy them merged, as docker stack deploy -c shop.yml -c shop.prod.yml would
  swarm_stack:
    name: shop
    compose_files:
      - /srv/shop/shop.yml
      - /srv/shop/shop.prod.yml

- name: Or deploy a controller file without copying it
  swarm_stack:
    name: shop
    compose: "{{ lookup('file', 'shop.yml') | from_yaml }}"

- name: Remove it
  swarm_stack:
    name: shop
    state: absent
"""

RETURN = r"""
services:
  description: Per service, its action (create, update, none, remove), changes, and status.
  returned: always
  type: dict
networks:
  description: Per network, its action.
  returned: always
  type: dict
secrets:
  description: Per secret, the version in use and whether it changed.
  returned: always
  type: dict
configs:
  description: Per config, the version in use and whether it changed.
  returned: always
  type: dict
removed:
  description: Services and networks removed (pruned, or the whole stack with state absent).
  returned: always
  type: list
  elements: str
"""

from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops import network as net  # noqa: E402
from ansible.module_utils.swarmops import versioned  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.compose import load_compose_files, translate  # noqa: E402
from ansible.module_utils.swarmops.service import (  # noqa: E402
    STACK_LABEL,
    apply,
    find_service,
    node_names,
    plan,
    plan_context,
    service_facts,
    wait_converged,
)
from ansible.module_utils.swarmops.spec import SERVICE_FIELDS, SpecError, get_path, validate  # noqa: E402

OPTIONS = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "compose": {"type": "dict"},
    "compose_files": {"type": "list", "elements": "path"},
    "prune": {"type": "bool", "default": True},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 180},
}


class Stack:
    def __init__(self, module: AnsibleModule, client: SwarmClient) -> None:
        self.module, self.client, self.check = module, client, module.check_mode
        self.stack = module.params["name"]
        self.result: dict[str, Any] = {"changed": False, "services": {}, "networks": {}, "secrets": {},
                                       "configs": {}, "removed": []}
        self.diff_lines: list[str] = []

    def fail(self, msg: str) -> None:
        self.finish()
        self.module.fail_json(msg=msg, **self.result)

    def finish(self) -> None:
        text = "".join(self.diff_lines)
        self.result["diff"] = {"before": "", "after": text, "after_header": f"stack {self.stack}"}

    def note(self, what: str, action: str, changes: list[dict] | None = None) -> None:
        if action != "none":
            self.result["changed"] = True
            self.diff_lines.append(f"{what}: {action}\n")
            for c in changes or []:
                self.diff_lines.append(f"  {c['field']}: {c['before']!r} -> {c['after']!r}\n")

    def owned(self, kind: str) -> list[dict]:
        lister = getattr(self.client.api, kind)
        return self.client.call(f"listing {kind}", lister, filters={"label": f"{STACK_LABEL}={self.stack}"})

    # --- present ---------------------------------------------------------------------------
    def networks(self, wanted: dict[str, dict]) -> None:
        for name, params in wanted.items():
            current = net.find_network(self.client, name)
            users = net.services_using(self.client, current["Id"]) if current else []
            the_plan = net.plan(params, current, users)
            self.result["networks"][name] = {"action": the_plan["action"], "changes": the_plan["changes"]}
            if the_plan["error"]:
                self.fail(the_plan["error"])
            self.note(f"network {name}", the_plan["action"], the_plan["changes"])
            if self.check or the_plan["action"] == "none":
                continue
            if the_plan["action"] == "recreate":
                self.remove(f"removing network {name}", lambda i=current["Id"]: self.client.api.remove_network(i))
            self.client.call(f"creating network {name}", self.client.post_json, "/networks/create",
                             data=the_plan["body"])

    def files(self, wanted: list[tuple[str, str, dict]]) -> None:
        for kind, name, opts in wanted:
            if opts.get("file"):
                try:
                    with open(opts["file"], "rb") as fh:
                        data = fh.read()
                except OSError as exc:
                    self.fail(f"{kind}s.{name}: cannot read {opts['file']} on the manager: {exc}")
                    return
            else:
                data = str(opts["content"]).encode()
            labels = {**(opts.get("labels") or {}), STACK_LABEL: self.stack}
            res = versioned.converge(self.client, kind, name, data, labels=labels, wait=self.module.params["wait"],
                                     wait_timeout=self.module.params["wait_timeout"], check_mode=self.check)
            error = res.pop("error")
            res.pop("diff", None)
            self.result[f"{kind}s"][name] = res
            if error:
                self.fail(error)
            self.note(f"{kind} {name}", "rotate" if res["changed"] else "none", res["changes"])

    def services(self, wanted: dict[str, dict]) -> list[str]:
        nodes = self.client.call("listing nodes", self.client.api.nodes)
        to_wait = []
        for name, params in wanted.items():
            current = find_service(self.client, name)
            the_plan = plan(params, current, plan_context(self.client, params, current, nodes), stack=self.stack)
            entry = {"action": the_plan["action"], "changes": the_plan["changes"]}
            self.result["services"][name] = entry
            if the_plan["error"]:
                self.fail(f"service {name}: {the_plan['error']}")
            self.note(f"service {name}", the_plan["action"], the_plan["changes"])
            if self.check or the_plan["action"] == "none":
                continue
            sid = apply(self.client, the_plan, current, name)
            to_wait.append(sid)
        return to_wait

    def prune(self, keep_services: set[str], keep_networks: set[str]) -> None:
        for s in self.owned("services"):
            name = s["Spec"]["Name"]
            if name in keep_services:
                continue
            self.note(f"service {name}", "remove")
            self.result["services"][name] = {"action": "remove", "changes": []}
            self.result["removed"].append(name)
            if not self.check:
                self.client.call(f"removing service {name}", self.client.api.remove_service, s["ID"])
        for n in self.owned("networks"):
            if n["Name"] in keep_networks:
                continue
            self.note(f"network {n['Name']}", "remove")
            self.result["networks"][n["Name"]] = {"action": "remove", "changes": []}
            self.result["removed"].append(n["Name"])
            if not self.check:
                self.remove(f"removing network {n['Name']}", lambda i=n["Id"]: self.client.api.remove_network(i))

    def remove(self, what: str, fn: Any) -> None:
        """Remove and wait until gone (tasks of just-removed services release objects late)."""
        error = net.remove_until_gone(self.client, what, fn)
        if error:
            self.fail(error)

    def wait(self, ids: list[str]) -> None:
        names = node_names(self.client)
        for sid in ids:
            waited, service, tasks = wait_converged(self.client, sid, self.module.params["wait_timeout"])
            name = get_path(service, ("Spec", "Name"))
            entry = self.result["services"][name]
            entry["wait"] = waited.as_result()
            entry["service"] = service_facts(service, tasks, names)
            entry["status"] = "converged" if waited.ok else ("failed" if waited.last.failed else "timed_out")
            if not waited.ok:
                self.fail(f"service {name} of stack {self.stack}: {waited.last.failed or waited.last.summary}")

    def present(self) -> None:
        try:
            compose = self.module.params["compose"]
            if compose is None:
                compose = load_compose_files(self.module.params["compose_files"])
            wanted = translate(self.stack, compose)
        except SpecError as exc:
            option = "compose" if self.module.params["compose"] is not None else "compose_files"
            self.fail(str(exc) if str(exc).startswith(option) else f"{option}: {exc}")
            return
        # Every service's fields are checked before anything is created, so that a bad port in
        # the last service does not leave the stack's networks and files behind.
        for name, params in wanted["services"].items():
            errors = validate(SERVICE_FIELDS, params)
            if errors:
                self.fail(f"service {name}: {'; '.join(errors)}")
                return
        self.networks(wanted["networks"])
        self.files(wanted["files"])
        ids = self.services(wanted["services"])
        if self.module.params["prune"]:
            self.prune(set(wanted["services"]), set(wanted["networks"]))
        if ids and self.module.params["wait"] and not self.check:
            self.wait(ids)

    def absent(self) -> None:
        self.prune(set(), set())
        for kind in ("secrets", "configs"):
            for obj in self.owned(kind):
                oname = obj["Spec"]["Name"]
                self.note(f"{kind[:-1]} {oname}", "remove")
                self.result["removed"].append(oname)
                if not self.check:
                    remover = getattr(self.client.api, f"remove_{kind[:-1]}")
                    self.remove(f"removing {kind[:-1]} {oname}", lambda r=remover, i=obj["ID"]: r(i))


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**OPTIONS), supports_check_mode=True,
                           mutually_exclusive=[("compose", "compose_files")],
                           required_if=[("state", "present", ("compose", "compose_files"), True)])
    stack = Stack(module, SwarmClient(module))
    if module.params["state"] == "present":
        stack.present()
    else:
        stack.absent()
    stack.finish()
    module.exit_json(**stack.result)


if __name__ == "__main__":
    main()
