#!/bin/sh
# Ansible's ssh, counted: with pipelining each module execution (and each other command an
# action plugin sends) is one ssh run. `python -m bench` sets this as ANSIBLE_SSH_EXECUTABLE
# and reads the count from SWARMOPS_BENCH_SSH_LOG.
if [ -n "$SWARMOPS_BENCH_SSH_LOG" ]; then echo x >> "$SWARMOPS_BENCH_SSH_LOG"; fi
exec ssh "$@"
