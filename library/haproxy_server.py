#!/usr/bin/python
"""haproxy_server: take a server out of HAProxy's backends and put it back, through the runtime API."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: haproxy_server
short_description: Enable, disable or drain a server in HAProxy through its runtime API
description:
  - Talks to HAProxy's runtime API socket (C(stats socket ... level admin)) on the load balancer
    host, with Python's standard library only. Sets the administrative state of one server in
    every backend that has it (or in I(backends)); reports a change only when a state changed.
  - C(drain) stops new connections to the server and keeps its health checks running;
    C(disabled) puts it in maintenance (no traffic, no checks); C(enabled) puts it back.
  - Before taking a server out, I(min_other_up) makes the module wait (up to I(wait_timeout))
    until that many other servers of each backend serve, so that taking one node out never
    empties a backend; it fails, changing nothing, when they do not come up in time.
  - With I(wait=true), after C(drain) or C(disabled) the module waits until the server has no
    current session left in those backends.
  - The swarm_lb role names servers after inventory hosts and backends after services, so
    C(server={{ inventory_hostname }}) on the C(lb) hosts takes a swarm node out of every service.
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
options:
  server:
    description: The server's name in the HAProxy configuration.
    type: str
    required: true
  state:
    description: C(enabled) (ready), C(disabled) (maintenance) or C(drain).
    type: str
    required: true
    choices: [enabled, disabled, drain]
  backends:
    description: Backends to change; every backend that has the server when omitted.
    type: list
    elements: str
  socket:
    description: Path of the runtime API socket.
    type: path
    default: /run/haproxy/admin.sock
  min_other_up:
    description:
      - Before C(drain) or C(disabled), wait until at least this many other servers are up
        (health check passing, enabled) in each backend where this server is up now.
    type: int
    default: 0
  wait:
    description: After C(drain) or C(disabled), wait until the server's current sessions end.
    type: bool
    default: true
  wait_timeout:
    description: Seconds each wait may take at most.
    type: int
    default: 60
notes:
  - Supports check mode (reports what would change, waits for nothing) and diff mode.
"""

EXAMPLES = r"""
- name: Take worker2 out of every backend, once another server serves, and let its sessions end
  haproxy_server:
    server: worker2
    state: drain
    min_other_up: 1
  delegate_to: lb1

- name: Put worker2 back
  haproxy_server:
    server: worker2
    state: enabled
  delegate_to: lb1
"""

RETURN = r"""
changes:
  description: The backends whose state changed (or would), with before and after.
  returned: always
  type: list
  elements: dict
  sample: [{backend: probe, server: worker2, before: enabled, after: drain}]
servers:
  description: >-
    The server in each selected backend after the task - backend, server, address,
    admin_state (enabled, disabled, drain), status (HAProxy's text), sessions, up.
  returned: always
  type: list
  elements: dict
waited:
  description: How the waits went (for other servers, then for sessions), with waited seconds and progress.
  returned: when the module waited
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.haproxy import (  # noqa: E402
    HAProxyError,
    Server,
    plan,
    read_servers,
    runtime_command,
    select,
    short_of_others,
)
from ansible.module_utils.swarmops.wait import Progress, wait_for  # noqa: E402


class Runtime:
    """The runtime API of one HAProxy, failing the module with a readable message."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.path = module.params["socket"]

    def servers(self) -> list[Server]:
        try:
            return read_servers(self.path)
        except (OSError, HAProxyError) as exc:
            self.module.fail_json(msg=f"socket: cannot read HAProxy's state from {self.path}: {exc}")
            raise  # not reached

    def send(self, command: str) -> None:
        try:
            answer = runtime_command(self.path, command).strip()
        except OSError as exc:
            self.module.fail_json(msg=f"socket: {command!r} failed on {self.path}: {exc}")
            raise
        if answer:  # `set server` answers nothing when it worked
            self.module.fail_json(msg=f"HAProxy refused {command!r}: {answer}")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "server": {"type": "str", "required": True},
            "state": {"type": "str", "required": True, "choices": ["enabled", "disabled", "drain"]},
            "backends": {"type": "list", "elements": "str"},
            "socket": {"type": "path", "default": "/run/haproxy/admin.sock"},
            "min_other_up": {"type": "int", "default": 0},
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "int", "default": 60},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["min_other_up"] < 0 or p["wait_timeout"] < 0:
        module.fail_json(msg="min_other_up and wait_timeout must be 0 or more")
    runtime = Runtime(module)

    def mine(servers: list[Server]) -> list[Server]:
        targets, error = select(servers, p["server"], p["backends"])
        if error:
            module.fail_json(msg=error)
        return targets

    servers = runtime.servers()
    targets = mine(servers)
    changes = plan(targets, p["state"])
    result: dict = {"changed": bool(changes), "changes": [{k: c[k] for k in ("backend", "server", "before", "after")}
                                                          for c in changes]}
    result["diff"] = {"before": {c["backend"]: c["before"] for c in changes},
                      "after": {c["backend"]: c["after"] for c in changes}}
    taking_out = p["state"] in ("drain", "disabled")
    if module.check_mode:
        module.exit_json(servers=[t.view() for t in targets], **result)

    waited: dict = {}
    if changes and taking_out and p["min_other_up"] > 0:
        def others() -> Progress:
            now = runtime.servers()
            short = short_of_others(now, mine(now), p["min_other_up"])
            return Progress(not short, "waiting for other servers in " + "; ".join(short) if short
                            else "enough other servers up")

        before = wait_for(others, timeout=p["wait_timeout"], interval=0.25, max_interval=1.0)
        waited["others"] = before.as_result()
        if not before.ok:
            result["changed"] = False
            module.fail_json(msg=f"refused: taking {p['server']} out would leave too few servers: "
                                 f"{before.last.summary}; nothing was changed", waited=waited, **result)
    for change in changes:
        runtime.send(change["command"])

    if taking_out and p["wait"]:
        def sessions() -> Progress:
            left = {t.backend: t.sessions for t in mine(runtime.servers()) if t.sessions}
            return Progress(not left, ", ".join(f"{b}: {n} session(s)" for b, n in sorted(left.items()))
                            or "no sessions left")

        drained = wait_for(sessions, timeout=p["wait_timeout"], interval=0.1, max_interval=0.5)
        waited["sessions"] = drained.as_result()
        if not drained.ok:
            module.fail_json(msg=f"{p['server']} is out of the load balancer but still has sessions after "
                                 f"{p['wait_timeout']} s: {drained.last.summary}", waited=waited,
                             servers=[t.view() for t in mine(runtime.servers())], **result)
    if waited:
        result["waited"] = waited
    module.exit_json(servers=[t.view() for t in mine(runtime.servers())], **result)


if __name__ == "__main__":
    main()
