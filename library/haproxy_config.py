#!/usr/bin/python
"""haproxy_config: HAProxy's configuration file with exactly the given text, and whether HAProxy
runs, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: haproxy_config
short_description: Keep HAProxy's configuration file exactly as given, validated, in one call
description:
  - Compares the file with I(content) and, only when they differ, writes the new text beside it,
    has HAProxy check it (C(haproxy -c -f)), and moves it over the old file in one step; a
    configuration HAProxy refuses is never installed.
  - Also reports whether HAProxy runs (its pid file names a live process) and starts at boot, so
    the role starts it only where it does not run. One round trip where a template task took
    four or five.
  - The text is rendered on the controller (e.g. with the C(template) lookup).
  - Without I(content), only reads (never changes anything) whether HAProxy is installed, the
    file's sha256, mode and owner, and whether HAProxy runs and starts at boot. The preflight
    reads each load balancer host so, and the role writes only where the text it renders differs.
version_added: "0.2.0"
author: swarmops (!UNKNOWN)
options:
  content:
    description: The whole configuration file; omitted, the module only reads.
    type: str
  path:
    description: Where HAProxy reads its configuration.
    type: path
    default: /etc/haproxy/haproxy.cfg
  pidfile:
    description: HAProxy's pid file, to tell whether it runs.
    type: path
    default: /run/haproxy.pid
  validate:
    description: The command that checks a new file (C(%s) is its path); empty for none.
    type: str
    default: haproxy -c -f %s
notes:
  - Supports check mode and diff mode. The file is written with mode 0644, owned by root.
"""

EXAMPLES = r"""
- name: Read HAProxy's state and the sha256 of its configuration
  haproxy_config: {}
  register: haproxy_read

- name: Write the HAProxy configuration
  haproxy_config:
    content: "{{ lookup('ansible.builtin.template', 'haproxy.cfg.j2') }}"
  register: haproxy
  notify: Reload HAProxy
"""

RETURN = r"""
installed:
  description: Whether the HAProxy program is installed.
  returned: without I(content)
  type: bool
config:
  description: The file as it is - path, exists, and when it exists its sha256, mode and owner (uid, gid).
  returned: without I(content)
  type: dict
running:
  description: Whether HAProxy runs.
  returned: always
  type: bool
enabled:
  description: Whether HAProxy starts at boot.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.files import read_text, write_atomically  # noqa: E402
from ansible.module_utils.swarmops.hostread import haproxy, pid_running, service_enabled  # noqa: E402


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "content": {"type": "str"},
            "path": {"type": "path", "default": "/etc/haproxy/haproxy.cfg"},
            "pidfile": {"type": "path", "default": "/run/haproxy.pid"},
            "validate": {"type": "str", "default": "haproxy -c -f %s"},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["content"] is None:
        module.exit_json(changed=False, **haproxy(p["path"], p["pidfile"]))
    current = read_text(p["path"])
    changed = current != p["content"]
    if changed and not module.check_mode:
        write_atomically(module, p["path"], p["content"], p["validate"] or None)
    file_args = module.load_file_common_arguments({"path": p["path"], "mode": "0644", "owner": "root",
                                                   "group": "root"})
    if current is not None or not module.check_mode:
        changed = module.set_fs_attributes_if_different(file_args, changed, diff=None)
    module.exit_json(changed=changed, running=pid_running(p["pidfile"]), enabled=service_enabled("haproxy"),
                     diff={"before_header": p["path"], "after_header": p["path"], "before": current or "",
                           "after": p["content"]})


if __name__ == "__main__":
    main()
