#!/usr/bin/python
"""swarm_secret: versioned Docker Swarm secrets, rotated into the services that use them."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_secret
short_description: Create, rotate and remove versioned Docker Swarm secrets
description:
  - The engine cannot change a secret's content, nor remove one a service uses. This module
    keeps a series of versions of a name, C(NAME.v1), C(NAME.v2) and so on, labelled
    C(swarmops.name), C(swarmops.version) and C(swarmops.digest).
  - When the content differs from the newest version, it creates the next version, updates every
    service that mounts an older version of the name to the new one (same target, uid, gid and
    mode, so the file in the container keeps its path), waits for them to converge, and removes
    versions beyond I(keep_versions) that no service uses any more.
  - M(swarm_service) resolves a secret name to its newest version and mounts it under the plain
    name, so services pick up rotations without knowing version numbers.
  - Run it on a manager.
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  name:
    description: The secret's name, without a version suffix.
    type: str
    required: true
  state:
    description: C(present), or C(absent) to remove every version (refused while a service uses one).
    type: str
    choices: [present, absent]
    default: present
  data:
    description:
      - The content (never logged nor returned).
      - Mutually exclusive with I(src).
    type: str
  data_is_b64:
    description: I(data) is base64 (for binary content).
    type: bool
    default: false
  src:
    description:
      - A file on the managed host holding the content. For a file on the controller, pass
        its content in I(data) with the C(file) lookup.
    type: path
  labels:
    description: More labels for each new version.
    type: dict
  keep_versions:
    description: Versions to keep (the newest included); older ones no service uses are removed.
    type: int
    default: 2
  update_services:
    description: Move the services that use an older version to the new one.
    type: bool
    default: true
  wait:
    description: Wait for each moved service to converge.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each service.
    type: int
    default: 120
notes:
  - Supports check mode (the version it would create and the services it would move) and diff mode.
  - The digest label is a salted SHA-256 of the content, so that a change can be seen without
    reading the secret back; a weak secret could be guessed from it offline by someone with manager access.
"""

EXAMPLES = r"""
- name: The database password, rotated into every service that mounts it
  swarm_secret:
    name: db_password
    data: "{{ vault_db_password }}"

- name: From a file on the manager
  swarm_secret:
    name: tls_bundle
    src: /etc/swarmops/bundle.pem
    keep_versions: 3

- name: Remove all versions
  swarm_secret:
    name: db_password
    state: absent
"""

RETURN = r"""
secret:
  description: The newest version (id, name with its version suffix, logical_name).
  returned: with state present, unless in check mode with a new version to create
  type: dict
changes:
  description: What changed (the new version, the services moved to it, the versions removed).
  returned: always
  type: list
  elements: dict
updated_services:
  description: Services moved to the new version.
  returned: always
  type: list
  elements: str
removed_versions:
  description: Old versions removed.
  returned: always
  type: list
  elements: str
kept_in_use:
  description: Old versions kept because a service still uses them.
  returned: always
  type: list
  elements: str
waits:
  description: Per moved service, how its wait went.
  returned: when services were moved and waited for
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.versioned import argument_options, run  # noqa: E402


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**argument_options(secret=True)),
                           mutually_exclusive=[("data", "src")], supports_check_mode=True)
    run(module, SwarmClient(module), "secret")


if __name__ == "__main__":
    main()
