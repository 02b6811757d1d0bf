# swarmops: `make demo` and `make test` start from a bare Debian 12 machine, as root.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
APT_PACKAGES := docker.io iptables iproute2 busybox-static openssh-server openssh-client \
	python3 python3-venv python3-docker curl util-linux procps haproxy nftables ufw
# Only for the VM backend (make test-vm, make demo LAB=vm).
VM_APT_PACKAGES := qemu-system-x86 qemu-utils debootstrap apt-cacher-ng e2fsprogs
LAB ?= swarmops
# Molecule scenarios `make molecule` runs, one lab each (see molecule/). `make test` runs the
# first four: what ca-rotation and recover check, it checks already on labs it pays for anyway
# (tests/reliability/test_lifecycle_secrets.py runs rotate-ca.yml and recover.yml and then
# site.yml for changed=0; tests/integration/test_cluster_swarm.py checks every node reissued).
MOLECULE_TEST_SCENARIOS := default maintenance scale-remove backup-restore
MOLECULE_SCENARIOS := $(MOLECULE_TEST_SCENARIOS) ca-rotation recover
# `make demo LAB=vm`: the VM lab's name and /24 (its own, beside the namespace demo lab).
VM_LAB ?= swarmops-vm
VM_SUBNET ?= 10.203.250.0/24

.PHONY: help deps deps-vm apt venv lab-up lab-down lab-status demo test test-vm test-firewalld test-docker-repo lint sanity collection unit integration reliability molecule bench clean

help:
	@echo "make demo       install what is needed, bring up the 5-host lab, run site.yml"
	@echo "make test       lint, sanity, unit, lab integration, reliability, Molecule, bench smoke, then the VM stage"
	@echo "make reliability bad input, check mode, faults, secrets, firewall (tests/reliability)"
	@echo "make test-vm    the VM stage alone: base image, then molecule -s vm (slow: qemu)"
	@echo "make test-firewalld  the firewalld backend on VMs of its own (~25 min, not in make test)"
	@echo "make test-docker-repo  the engine role from a Docker-shaped apt repository, on VMs (not in make test)"
	@echo "make demo LAB=vm  the demo on qemu VMs (3 managers, 1 worker) instead of namespaces"
	@echo "make lab-up     the 3-manager + 2-worker lab (python -m lab up)"
	@echo "make lab-down   remove the lab and every trace of it"
	@echo "make bench      benchmarks against a bare script and community.docker (bench/results.md)"
	@echo "make collection build/swarmops-swarm-VERSION.tar.gz, generated from this tree"
	@echo "make sanity     ansible-test sanity (Python 3.11) on the generated collection"

deps: apt venv
deps-vm: deps
	$(MAKE) --no-print-directory apt APT_PACKAGES="$(VM_APT_PACKAGES)"

# apt only when a package is missing: a converged machine skips the slow index update.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "apt: installing $$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

lab-up: deps
	$(PY) -m lab --name $(LAB) up

lab-down:
	python3 -m lab --name $(LAB) down

lab-status:
	python3 -m lab --name $(LAB) status

# LAB=vm: the same demo on qemu VMs (lab $(VM_LAB) on $(VM_SUBNET), its own inventory), from
# bare Debian 12 VMs: the engine role installs docker.io from apt through the lab's proxy.
ifeq ($(LAB),vm)
demo: deps-vm
	@start=$$(date +%s); \
	$(PY) -m lab --name $(VM_LAB) up --backend vm --subnet $(VM_SUBNET) --managers 3 --workers 1 && \
	ansible-playbook -i /var/lib/swarmops-lab/$(VM_LAB)/hosts.yml site.yml && \
	ansible-playbook -i /var/lib/swarmops-lab/$(VM_LAB)/hosts.yml playbooks/status.yml && \
	$(PY) -m lab --name $(VM_LAB) status && \
	echo "demo: done in $$(( $$(date +%s) - start )) s; explore with: python3 -m lab --name $(VM_LAB) ssh manager1;" \
		"remove with: python3 -m lab --name $(VM_LAB) down"
else
demo: deps
	@start=$$(date +%s); \
	$(PY) -m lab up --lb 1 && \
	ansible-playbook site.yml && \
	ansible-playbook playbooks/status.yml && \
	echo "demo: done in $$(( $$(date +%s) - start )) s; explore with: python3 -m lab ssh manager1"
endif

# Every module's docs and every role's argument spec must render: ansible-doc takes them all in
# one call each (about 1.5 s together) and reports a broken one on stderr, which fails the step.
MODULES := $(basename $(notdir $(wildcard library/*.py)))
ROLES := $(notdir $(wildcard roles/*))

lint: venv
	ruff check .
	yamllint -s .
	ansible-lint --profile production --offline
	@err=$$(ansible-doc -M library -t module $(MODULES) 2>&1 >/dev/null) && [ -z "$$err" ] \
		|| { echo "lint: module docs do not render: $$err"; exit 1; }
	@err=$$(ansible-doc -t role -r roles $(ROLES) 2>&1 >/dev/null) && [ -z "$$err" ] \
		|| { echo "lint: role argument specs do not render: $$err"; exit 1; }
	@echo "lint: docs of $(words $(MODULES)) modules and $(words $(ROLES)) roles render"

# The collection swarmops.swarm, generated from this tree into build/ (gitignored) and built
# as build/swarmops-swarm-VERSION.tar.gz; collection/build.py says what it rewrites and why.
collection: venv
	$(PY) collection/build.py

# ansible-test sanity on the generated collection, Python 3.11, locally (no containers); its
# virtualenvs live in build/ansible-test-home and are made on the first run.
sanity: venv
	$(PY) collection/build.py --no-tarball
	$(PY) collection/sanity.py

unit: venv
	$(PY) -m pytest -q tests/unit

integration: deps
	$(PY) -m pytest -q tests/integration

# Bad input, check mode, faults, secrets, firewall: tests/reliability, on labs of its own.
reliability: deps
	$(PY) -m pytest tests/reliability -q -rfEs --durations=0

# The whole suite; every lab it makes is torn down by its fixtures, pass or fail. The lab
# tests run on two pytest workers, each with labs and /24s of its own (tests/support/lab.py):
# much of their time is spent waiting on engines. (The order of the directories does not matter:
# tests/conftest.py alone sets the import path, and shared helpers are the tests/support package.)
# The benchmarks run once as a smoke test (numbers to bench/out/, not bench/results.md). Then
# the VM stage.
test: deps
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint && \
	$(MAKE) --no-print-directory sanity && \
	$(PY) -m pytest tests/unit tests/integration tests/reliability -q -rfEs --durations=15 \
		-n 2 --dist loadfile && \
	for s in $(MOLECULE_TEST_SCENARIOS); do molecule test -s $$s || exit 1; done && \
	mkdir -p bench/out && $(PY) -m bench --reps 1 --smoke --out bench/out/smoke.md && \
	echo "test: namespace-lab stage passed in $$(( $$(date +%s) - start )) s" && \
	$(MAKE) --no-print-directory test-vm && \
	echo "test: everything passed in $$(( $$(date +%s) - start )) s"

# The VM stage: real Debian 12 VMs under qemu (slow: software emulation here). The base image
# is built first (cached under /var/cache/swarmops-lab, rebuilt when its recipe changes), then
# the Molecule scenario: site.yml from bare VMs, idempotence, and a verify step with the
# routing mesh / VIP / encrypted overlay / maintenance checks on the same VMs.
# A machine that cannot run VMs gets a skip that says why.
test-vm: deps-vm
	@start=$$(date +%s); \
	if ! reason=$$($(PY) -m lab image --check); then \
		echo "test-vm: SKIPPED, this machine cannot run the VM backend: $$reason"; exit 0; fi; \
	$(PY) -m lab image && \
	molecule test -s vm && \
	echo "test-vm: VM stage passed in $$(( $$(date +%s) - start )) s"

# The firewalld backend on VMs of its own (1 manager, 1 worker, an outsider; firewalld installed
# by apt): site.yml, idempotence, --check, exact policy, reachability, the mesh and an encrypted
# overlay across hand edits mended without a reload, the reload guard, a reboot, switching
# backends. About 25 minutes here, so not part of `make test`.
test-firewalld: deps-vm
	@if ! reason=$$($(PY) -m lab image --check); then \
		echo "test-firewalld: SKIPPED, this machine cannot run the VM backend: $$reason"; exit 0; fi; \
	$(PY) -m lab image && \
	$(PY) -m pytest tests/vm_firewalld -v -rfEs --durations=0 -s

# The engine role's Docker-repository path (docker_engine_repository: docker) on VMs of its own
# (lab swarmops-dockerrepo on 10.203.241.0/24: 1 manager, 1 worker), against a signed apt
# repository shaped like Docker's that lab/aptrepo.py builds from Debian's engines and serves on
# the lab's bridge: site.yml from bare VMs with a version pin, changed=0, origin and signed-by,
# an upgrade by raising the pin, a downgrade refused. Not part of `make test`.
test-docker-repo: deps-vm
	@start=$$(date +%s); \
	if ! reason=$$($(PY) -m lab image --check); then \
		echo "test-docker-repo: SKIPPED, this machine cannot run the VM backend: $$reason"; exit 0; fi; \
	$(PY) -m lab image && \
	$(PY) -m pytest tests/vm_docker_repo -x -v -rfEs --durations=0 -s < /dev/null && \
	echo "test-docker-repo: passed in $$(( $$(date +%s) - start )) s"

molecule: deps
	for s in $(MOLECULE_SCENARIOS); do molecule test -s $$s || exit 1; done

# matplotlib (the plot) only for the bench; the bench makes its own virtualenv for the
# community.docker contender on first use.
$(VENV)/.bench-installed: bench/requirements.txt $(VENV)/.installed
	$(VENV)/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
	touch $@

bench: deps $(VENV)/.bench-installed
	$(PY) -m bench

clean: lab-down
	rm -rf $(VENV) .pytest_cache .ruff_cache build
