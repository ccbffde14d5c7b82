# Atelier: build, test, run and benchmark. Every target is safe to rerun.
#
#   make run     install what is missing, fetch the models, open the studio
#   make test    install what is missing, fetch the models, vet and test
#   make bench   time the engine against PyTorch (VGG19 at 256 and 512 px,
#                the UpscalerJS networks at 256 px x4) and the memory of a
#                4096 x 4096 x2 upscale
#   make smoke   open the real window under Xvfb, screenshot each tab, probe latency
#   make examples  render the README's example sheets into docs/examples

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# Go: the toolchain named in go.mod (fetched from the Go module proxy when
# the installed go is older, see the go target). The build cache stays in
# its default place ($HOME/.cache/go-build); without a HOME (some CI
# runners) it goes under .cache/ in the repository.
GO_VERSION := $(shell sed -n 's/^go //p' go.mod)
GO_ROOT    ?= /usr/local/go
export PATH := $(GO_ROOT)/bin:$(PATH)
export GOTOOLCHAIN ?= auto
ifeq ($(HOME),)
export GOCACHE    ?= $(CURDIR)/.cache/go-build
export GOPATH     ?= $(CURDIR)/.cache/go
endif
# No VCS stamping: CI checkouts owned by another user make git refuse.
export GOFLAGS ?= -buildvcs=false

# Debian/Ubuntu packages. Build: cgo, OpenGL/X11 for Fyne, GTK 3 for the
# native file dialog, OpenBLAS for the engine, CA certificates for the Go
# module proxy. Test: Xvfb for the smoke
# test and ImageMagick for its screenshot. npm fetches some models.
DEB_BUILD := ca-certificates gcc libc6-dev pkg-config libgl1-mesa-dev xorg-dev libgtk-3-dev libopenblas-dev
DEB_TEST  := xvfb xauth x11-utils imagemagick
DEB_BENCH := python3-torch
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# install-debs PACKAGES...: apt-get install only the missing ones.
define install-debs
missing=""; \
for p in $(1); do \
	dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
	echo "Installing:$$missing"; \
	$(SUDO) apt-get update -qq; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
fi
endef

.PHONY: deps bench-deps toolchain models build run test bench smoke examples clean

deps: toolchain
	@$(call install-debs,$(DEB_BUILD) $(DEB_TEST))
	@command -v npm >/dev/null || { $(call install-debs,npm); }

bench-deps: deps
	@$(call install-debs,$(DEB_BENCH))

# toolchain: make sure a go command that can run go.mod's toolchain is on PATH.
# Go >= 1.21 switches to go.mod's version by itself (GOTOOLCHAIN=auto);
# older or missing: unpack Go $(GO_VERSION) from the module proxy into
# $(GO_ROOT).
toolchain:
	@if v=$$(go env GOVERSION 2>/dev/null) && [ "$$(printf '%s\n' go1.21 "$$v" | sort -V | head -n1)" = go1.21 ]; then \
		exit 0; \
	fi; \
	$(call install-debs,curl unzip ca-certificates); \
	arch=$$(dpkg --print-architecture); \
	echo "Installing Go $(GO_VERSION) into $(GO_ROOT)"; \
	tmp=$$(mktemp -d); \
	curl -fsSL -o "$$tmp/go.zip" "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$(GO_VERSION).linux-$$arch.zip"; \
	unzip -q "$$tmp/go.zip" -d "$$tmp"; \
	$(SUDO) rm -rf "$(GO_ROOT)"; \
	$(SUDO) mv "$$tmp/golang.org/toolchain@v0.0.1-go$(GO_VERSION).linux-$$arch" "$(GO_ROOT)"; \
	$(SUDO) chmod -R a+rX "$(GO_ROOT)"; \
	$(SUDO) chmod a+x "$(GO_ROOT)"/bin/* "$(GO_ROOT)"/pkg/tool/*/*; \
	rm -rf "$$tmp"; \
	go version

models:
	bash scripts/fetch-models.sh

build: toolchain
	go build -o bin/atelier .

run: deps models build
	bin/atelier $(ARGS)

test: deps models
	go vet ./...
	go test ./...
	go test -race ./engine/...
	go test -tags purego ./engine/...

bench: bench-deps build
	bin/atelier bench vgg --size 256
	bin/atelier bench vgg --size 512
	bin/atelier bench sr
	bin/atelier bench style --size 512
	SMOKE_BIN=bin/atelier SMOKE_P95_MAX_MS=50 bash scripts/smoke-xvfb.sh "$$(mktemp -d)"

# SMOKE_DIR: where the screenshots go (the README's by default): studio.png,
# style-running.png, texture.png and upscale.png. It reports how long the
# window's fyne.Do callbacks wait during a 512 px run; make bench fails when
# their p95 is 50 ms or more.
SMOKE_DIR ?= docs/screenshots
smoke: deps models
	bash scripts/smoke-xvfb.sh $(SMOKE_DIR)

# examples: renders kept in docs/examples are reused; FORCE=1 renders again.
# Tens of minutes on two cores (ResNet-50 style transfers at 512 px).
examples: deps models build
	bash scripts/examples.sh

clean:
	rm -rf bin
