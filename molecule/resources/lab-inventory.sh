#!/bin/sh
# Ansible inventory script for the lifecycle scenarios: the hosts of the scenario's lab,
# read when a step runs, so that the inventory exists before the create step made the lab.
cd "$(dirname "$(readlink -f "$0")")/../.." && exec python3 -m lab --name "${SWARMOPS_MOLECULE_LAB:?}" inventory "$@"
