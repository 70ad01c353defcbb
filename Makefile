# `sam build` (BuildMethod: makefile) runs `make build-<LogicalId> ARTIFACTS_DIR=<dir>` for each
# function; each target leaves one self-contained, stripped `bootstrap` there (scripts/build-static).
#
#   make build-GetFilesFunction ARTIFACTS_DIR=/tmp/out
#   make artifacts                      every function into build/artifacts/<LogicalId>/
#   make build-AFunction build-BFunction ARTIFACTS_ROOT=DIR   each into DIR/<LogicalId>/
#
# ARCH (x86_64) must match the template's Architecture parameter; ./deploy passes both.
ARCH ?= x86_64
ARTIFACTS_ROOT ?= $(CURDIR)/build/artifacts
ARTIFACTS_DIR ?= $(ARTIFACTS_ROOT)/$(subst build-,,$@)
FUNCTIONS := GetFiles DetermineOperationType CombineLogFiles DeleteOriginals CrawlerTrigger \
             ManifestBuilder
STATIC_BIN := $(CURDIR)/build/static-$(ARCH)/cmake/bin

.PHONY: static artifacts

static:
	scripts/build-static $(ARCH)

build-%Function: static
	mkdir -p "$(ARTIFACTS_DIR)"
	strip --strip-all -o "$(ARTIFACTS_DIR)/bootstrap" "$(STATIC_BIN)/$*"

artifacts: $(FUNCTIONS:%=build-%Function)
