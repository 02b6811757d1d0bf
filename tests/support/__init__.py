"""Helpers shared by the test suites, imported as `from support.lab import Lab` (tests/conftest.py
puts tests/ on sys.path). Each module is named for what it holds:

- lab.py: the test-side handle on a lab (Lab), the tests' lab names and /24s (PREFIX, subnet),
  wait_for, recap.
- cluster.py, workload.py: ad hoc module runs and their results, for the cluster and workload
  module tests of tests/integration.
- snapshot.py: everything swarmops could change on a lab, to compare before and after.
- runs.py: one task or one role run as data, and a playbook that fires an action on a line.
- bad_inputs.py: the bad-input table; secret_scan.py: the scanner for secret material.
- reliability.py, vm_firewalld.py: what those suites' fixtures and tests share (their labs,
  members, records of runs).

Fixtures are not here: they stay in the conftest.py files, where pytest finds them.
"""
