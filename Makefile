# `sam build` (BuildMethod: makefile) runs `make build-<LogicalId> ARTIFACTS_DIR=<dir>` for each
# function; each target leaves one self-contained, stripped `bootstrap` there (scripts/build-static).
#
#   make build-GetFilesFunction ARTIFACTS_DIR=/tmp/out
#   make artifacts                      every function into build/artifacts/<ARCH>/<LogicalId>/
#   make -j2 artifacts-all              both architectures at once (what the tests run)
#   make build-AFunction build-BFunction ARTIFACTS_ROOT=DIR   each into DIR/<LogicalId>/
#
# `sam build` builds in source (samconfig.example.toml: build_in_source; ./deploy passes
# --build-in-source): every function's target runs here, and build-static's lock makes the first build
# everything once for the others. Copied to a scratch folder per function instead, each would
# rebuild libcurl and every bootstrap.
#
# sam tells make nothing of the template's Architecture parameter, so ARCH must match it: arm64
# (the template's default) unless set, as in `ARCH=x86_64 sam build`. ./deploy sets it from the
# parameter and checks every bootstrap it packages against it.
ARCH ?= arm64
ARTIFACTS_ROOT ?= $(CURDIR)/build/artifacts/$(ARCH)
ARTIFACTS_DIR ?= $(ARTIFACTS_ROOT)/$(subst build-,,$@)
FUNCTIONS := GetFiles DetermineOperationType CombineLogFiles DeleteOriginals CrawlerTrigger \
             ManifestBuilder LogForwarder AmplifyLogExporter
STATIC_BIN := $(CURDIR)/build/static-$(ARCH)/cmake/bin
STRIP_x86_64 := strip
STRIP_arm64 := aarch64-linux-gnu-strip

.PHONY: static artifacts artifacts-all artifacts-x86_64 artifacts-arm64

# The host is checked first: anywhere but Debian 12 the build would fail deep inside, minutes in.
static:
	@scripts/check-build-host
	scripts/build-static $(ARCH)

build-%Function: static
	mkdir -p "$(ARTIFACTS_DIR)"
	$(STRIP_$(ARCH)) --strip-all -o "$(ARTIFACTS_DIR)/bootstrap" "$(STATIC_BIN)/$*"

artifacts: $(FUNCTIONS:%=build-%Function)

artifacts-all: artifacts-x86_64 artifacts-arm64

artifacts-x86_64 artifacts-arm64:
	$(MAKE) --no-print-directory artifacts ARCH=$(subst artifacts-,,$@) ARTIFACTS_ROOT=$(CURDIR)/build/artifacts/$(subst artifacts-,,$@)
