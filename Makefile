# sanboot.lab — `make lab` builds the embedded lab and runs site.yml on it; `make test` runs every test.
# Both start from a fresh Debian 12 machine: they install what they need (apt, venv, pip).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV       ?= $(CURDIR)/.venv
PYTHON     ?= /usr/bin/python3
CACHE      := $(CURDIR)/.cache
# Images and root filesystems live outside the work tree and survive `git clean`.
LAB_CACHE  ?= /var/cache/sanboot-lab
INVENTORY  ?= inventories/local
COLLECTION := $(CACHE)/collections/ansible_collections/sanboot/lab

export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CACHE)/collections
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0
export LAB_CACHE

APT_PACKAGES := python3-venv python3-dev gcc rsync git make openssh-client iproute2 iputils-ping \
	lxc debootstrap tgt vblade libiscsi-bin qemu-utils qemu-block-extra ca-certificates python3-libvirt \
	qemu-system-x86 fdisk e2fsprogs shellcheck dnsmasq-base busybox curl syslinux syslinux-common mtools \
	dosfstools cpio graphviz open-iscsi iperf3

COLLECTION_SRC := galaxy.yml README.md COPYING CHANGELOG.md changelogs/changelog.yaml $(shell find meta plugins roles playbooks docs inventories -type f \
	-not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: help deps collection lab lab-xen lab-up site lab-down testbed testbed-down test test-unit test-sanity test-lint \
	test-integration test-molecule test-prepare test-static bench changelog docs clean

help:
	@echo "make lab        build the embedded lab (LXC hosts on sanbr0) and run playbooks/site.yml on it"
	@echo "make lab-xen    make lab plus its Xen half: two Xen hosts (QEMU/TCG) and a PV domU with root on iSCSI"
	@echo "make lab-down   remove everything the embedded lab created"
	@echo "make testbed    start the QEMU kernel testbed (198.51.100.30; make testbed-down stops it)"
	@echo "make test       unit, sanity, lint, integration (real tgtd/vblade) and molecule tests"
	@echo "make docs       the docs site (antsibull-docs + Sphinx) in .cache/docs/build/html"
	@echo "make bench      benchmarks (tables on stdout, JSON under bench/results/)"
	@echo "make changelog  fold changelogs/fragments/ into changelogs/changelog.yaml, regenerate CHANGELOG.md"

## ---- dependencies -------------------------------------------------------------------------
$(CACHE)/stamp-apt: Makefile
	@mkdir -p $(CACHE)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	  | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing $$missing"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

$(VENV)/stamp: requirements.txt requirements-test.txt $(CACHE)/stamp-apt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-test.txt
	@touch $@

deps: $(CACHE)/stamp-apt $(VENV)/stamp

## ---- the collection, built and installed for the venv ------------------------------------
$(COLLECTION)/MANIFEST.json: $(COLLECTION_SRC) $(VENV)/stamp
	@rm -rf $(CACHE)/dist && mkdir -p $(CACHE)/dist
	ansible-galaxy collection build --force --output-path $(CACHE)/dist . >/dev/null
	ansible-galaxy collection install --no-deps --force -p $(CACHE)/collections \
	  $(CACHE)/dist/sanboot-lab-*.tar.gz >/dev/null
	@echo "collection sanboot.lab installed in $(CACHE)/collections"

collection: deps $(COLLECTION)/MANIFEST.json

## ---- the embedded lab --------------------------------------------------------------------
# LAB_VARS: extra variables as JSON, e.g. LAB_VARS='{"lab_image_backports": []}' (Debian 12's own QEMU)
LAB_VARS   ?=
LAB_EXTRA  := $(if $(LAB_VARS),-e '$(LAB_VARS)')

lab: collection
	ansible-playbook playbooks/lab.yml -i $(INVENTORY) $(LAB_EXTRA)

# The lab plus its Xen half (xen1, xen2 under QEMU/TCG, guest4): its own target, it adds ~10 min
# and ~3.5 GiB of memory to `make lab` (docs/xen.md).
lab-xen: collection
	ansible-playbook playbooks/lab_xen.yml -i $(INVENTORY) $(LAB_EXTRA)

lab-up: collection
	ansible-playbook playbooks/lab_up.yml -i $(INVENTORY) $(LAB_EXTRA)

site: collection
	ansible-playbook playbooks/site.yml -i $(INVENTORY)

lab-down: collection
	ansible-playbook playbooks/testbed_down.yml
	ansible-playbook playbooks/xen_down.yml
	ansible-playbook playbooks/lab_down.yml -i $(INVENTORY)

testbed: collection
	ansible-playbook playbooks/testbed_up.yml

testbed-down: collection
	ansible-playbook playbooks/testbed_down.yml

## ---- tests -------------------------------------------------------------------------------
# The unit tests first; then what the integration workers and molecule share (the lab bridges and
# key, the guest and container images: made once, test-prepare); then the integration suite beside
# sanity, lint and molecule (test-static, one after the other). The integration suite's output
# comes as one block when it ends. TEST_JOBS=1: one suite after the other.
TEST_JOBS ?= 2
test: collection
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-prepare
	SANBOOT_TEST_PREPARED=1 $(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target test-integration test-static
	@echo "make test: all suites passed"

test-prepare: collection
	python tests/integration/_workers.py

# At a lower CPU priority: beside the integration suite, its QEMU/TCG guests come first.
test-static: collection
	nice -n 10 $(MAKE) --no-print-directory test-sanity
	nice -n 10 $(MAKE) --no-print-directory test-lint
	nice -n 10 $(MAKE) --no-print-directory test-molecule

test-unit: collection
	python -m pytest -q tests/unit

# Two pytest-xdist workers (the testbed's users one after the other, the files that share tgtd and
# vblade too, the others beside them: tests/integration/_workers.py); TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test-integration: collection
	python -m pytest -q --durations=25 -n $(TEST_WORKERS) tests/integration

test-sanity: collection
	tests/sanity/run.sh

test-lint: collection
	ansible-lint --profile production

test-molecule: collection
	rm -rf .ansible/collections/ansible_collections/sanboot   # ansible-lint's copy would shadow ours
	cd $(CURDIR) && molecule test --all

# The docs site from the installed collection: antsibull-docs writes the RST, Sphinx the HTML.
# Offline, the links into docs.ansible.com (intersphinx) cannot resolve: their warnings go to
# .cache/docs/warnings.log; DOCS_STRICT=1 fails on any warning (needs the network).
DOCS       := $(CACHE)/docs
DOCS_STRICT ?=
$(VENV)/stamp-docs: requirements-docs.txt $(VENV)/stamp
	$(VENV)/bin/pip install -q -r requirements-docs.txt
	@touch $@

docs: collection $(VENV)/stamp-docs
	rm -rf $(DOCS) && mkdir -m 0755 -p $(DOCS)
	antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --dest-dir $(DOCS) sanboot.lab >/dev/null
	mkdir -m 0755 -p $(DOCS)/rst
	antsibull-docs --config-file $(DOCS)/antsibull-docs.cfg collection --cleanup everything --fail-on-error \
	  --use-current --squash-hierarchy --dest-dir $(DOCS)/rst sanboot.lab
	sphinx-build -M html $(DOCS)/rst $(DOCS)/build -c $(DOCS) -q --keep-going -w $(DOCS)/warnings.log \
	  $(if $(DOCS_STRICT),-W)
	@echo "docs site: $(DOCS)/build/html/index.html ($$(grep -c WARNING $(DOCS)/warnings.log || true) warnings, see $(DOCS)/warnings.log)"

bench: collection
	python -m bench

## ---- changelog (antsibull-changelog; docs/packaging.md) ----------------------------------
# The unreleased version of galaxy.yml is recorded as a release dated today; fragments are kept and
# new ones are added to it, edited ones re-read. ansible-doc reads version_added (new modules, roles).
changelog: deps
	antsibull-changelog lint
	antsibull-changelog release --version $$(sed -n 's/^version: *//p' galaxy.yml) --update-existing --refresh-fragments --reload-plugins \
	  --date $$(date -u +%F)

clean:
	rm -rf $(CACHE) tests/output
