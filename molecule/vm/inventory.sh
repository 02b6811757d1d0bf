#!/bin/sh
# Ansible inventory script: the hosts of this scenario's VM lab, read when a step runs, so
# that the inventory exists before create.yml has made the lab.
cd "$(dirname "$(readlink -f "$0")")/../.." && exec python3 -m lab --name "${SWARMOPS_MOLECULE_LAB:-swmv}" inventory "$@"
