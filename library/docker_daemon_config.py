#!/usr/bin/python
"""Keep the engine's daemon.json holding exactly the given settings, in one module call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: docker_daemon_config
short_description: Keep /etc/docker/daemon.json holding exactly the given settings
description:
  - Reads the file, compares it as JSON with I(config) and writes it (atomically, as sorted,
    indented JSON) only when the settings differ, the file is missing or it is not JSON. Key
    order and spacing do not count as a difference, so the engine is not restarted for them.
  - One module call where a template, a validation and a copy took several round trips; the
    result's C(changed) is what a restart handler should follow.
  - Refuses C(live-restore), which the engine will not run swarm mode with.
  - Owner, group and mode are kept as given (the common file options). A missing folder is
    made (mode 0755, as the engine's package makes it), so the file can be written before the
    engine is installed and the engine's first start already reads it.
options:
  config:
    description: The whole daemon.json, as a dict.
    type: dict
    required: true
  path:
    description: The file to keep.
    type: path
    default: /etc/docker/daemon.json
notes:
  - Supports check mode and diff mode (the file's text before and after).
extends_documentation_fragment: [files]
author: swarmops (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Write /etc/docker/daemon.json
  docker_daemon_config:
    config:
      log-driver: json-file
      log-opts: {max-size: 10m, max-file: "3"}
    owner: root
    group: root
    mode: "0644"
  notify: Restart the Docker engine
"""

RETURN = r"""
reason:
  description: Why the file was (or would be, in check mode) written; empty when it was not.
  returned: always
  type: str
config:
  description: The settings the file holds (or would hold, in check mode).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.daemon_config import (  # noqa: E402
    parse,
    refused_keys,
    render,
    rewrite_reason,
)
from ansible.module_utils.swarmops.files import read_text, write_atomically  # noqa: E402


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "config": {"type": "dict", "required": True},
            "path": {"type": "path", "default": "/etc/docker/daemon.json"},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    path, wanted = module.params["path"], module.params["config"]
    refused = refused_keys(wanted)
    if refused:
        module.fail_json(msg=f"config: {', '.join(refused)} is refused: the engine will not run swarm mode "
                             "with it. Remove it.")
    text = render(wanted)
    # What is written must read back as the same settings (the old copy task's validate step).
    if parse(text)[0] != wanted:
        module.fail_json(msg="config: the settings do not survive a round trip through JSON")
    current_text = read_text(path)
    reason = rewrite_reason(current_text, wanted)
    changed = bool(reason)
    diff = {"before_header": path, "after_header": path,
            "before": current_text or "", "after": text if changed else (current_text or "")}
    if changed and not module.check_mode:
        write_atomically(module, path, text, folder_mode=0o755)
    file_args = module.load_file_common_arguments(module.params)
    if current_text is not None or not module.check_mode:
        changed = module.set_fs_attributes_if_different(file_args, changed, diff=None)
    module.exit_json(changed=changed, reason=reason, config=wanted, diff=diff)


if __name__ == "__main__":
    main()
