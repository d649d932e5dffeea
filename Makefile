# hurah — build, test, demo, bench. `make help` lists the targets.
# The PHP extension and the C library are built by separate cargo invocations so the
# extension's copy of the core is built without the C ABI (feature `capi`).

CARGO   ?= cargo
PHP     ?= php
PHPUNIT ?= phpunit
PROFILE ?= release
CARGO_PROFILE_FLAG := $(if $(filter release,$(PROFILE)),--release,)
TARGET_DIR := target/$(PROFILE)

.PHONY: test-demo test-noop-build test-features test-seams all build ext lib cli test test-rust test-php test-c demo bench bench-pg header header-check help clean

all: build

help:
	@echo "make build   - build/hurah.so (PHP), build/libhurah.{so,a} + include/hurah.h (C), build/hurah (CLI)"
	@echo "make demo    - dispatch from PHP, run the native worker, show the queue"
	@echo "make test    - every test: Rust, PHPUnit against build/hurah.so, C"
	@echo "make bench   - benchmarks with ratios against the physical limit (writes BENCHMARKS.md)"
	@echo "make bench-pg - the PostgreSQL backend from PHP next to the Rust core (needs a server:"
	@echo "               HURAH_TEST_PG); prints its section, which make bench appends"

build: ext lib cli

ext:
	$(CARGO) build $(CARGO_PROFILE_FLAG) -p hurah-php
	@mkdir -p build
	bash scripts/ship.sh $(TARGET_DIR)/libhurah_php.so build/hurah.so

# The C library. Only `-p hurah --lib` (never --workspace): feature unification would put the
# C ABI into the PHP extension. `cargo rustc --crate-type` makes the cdylib and staticlib here
# only: Cargo.toml declares an rlib alone, so the copies of the core that the extension and
# the CLI (cli/, both without the C ABI) and this library link are units cargo keeps apart, and a second
# `make build` compiles nothing (a cdylib/staticlib unit has no hash in its name, so with
# those types in Cargo.toml the extension's and the library's builds overwrote each other). build/hurah.pc lets `pkg-config --cflags --libs hurah` (with
# PKG_CONFIG_PATH=build) give the compile and link lines for this checkout.
HURAH_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

lib:
	$(CARGO) rustc $(CARGO_PROFILE_FLAG) -p hurah --lib --crate-type cdylib,staticlib
	@mkdir -p build
	bash scripts/ship.sh $(TARGET_DIR)/libhurah.so build/libhurah.so
	bash scripts/ship.sh $(TARGET_DIR)/libhurah.a build/libhurah.a
	@printf '%s\n' 'prefix=$(CURDIR)' 'libdir=$${prefix}/build' 'includedir=$${prefix}/include' '' \
	  'Name: hurah' 'Description: crash-safe file-based task queue (C API of hurah)' \
	  'Version: $(HURAH_VERSION)' 'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} -Wl,-rpath,$${libdir} -lhurah' 'Libs.private: -lpthread -ldl -lm' > build/hurah.pc

# Regenerate include/hurah.h from src/capi (cbindgen); `make header-check` fails on drift.
header:
	bash scripts/gen-header.sh

header-check:
	bash scripts/gen-header.sh --check

# The CLI is its own crate (cli/, package hurah-cli, binary hurah): clap and anything else only
# the command line needs stay out of the core, hurah.so and libhurah.
cli:
	$(CARGO) build $(CARGO_PROFILE_FLAG) -p hurah-cli
	@mkdir -p build
	bash scripts/ship.sh $(TARGET_DIR)/hurah build/hurah

test: build test-noop-build header-check test-seams test-features test-rust test-php test-c test-demo

# Right after a build, `make build` must compile nothing and copy nothing (a no-op build is a
# no-op: the core used to be compiled three times over).
test-noop-build: build
	@out=$$($(MAKE) --no-print-directory build 2>&1) || { echo "$$out"; exit 1; }; \
	if echo "$$out" | grep -E 'Compiling|shipped'; then \
	  echo "test-noop-build: a second make build redid the above"; exit 1; fi; \
	echo "test-noop-build: OK (a second make build compiled nothing)"

# Seams no compiler enforces: clap in the CLI crate only; no handler/worker/run import cycle in
# php/src (scripts/check-seams.sh).
test-seams:
	bash scripts/check-seams.sh

# The core builds without its optional parts: file-only (`pg` off: no database client) with and
# without the C ABI; without `pg` a postgresql:// root is refused clearly (src/open.rs).
test-features:
	$(CARGO) check -p hurah --no-default-features
	$(CARGO) check -p hurah --no-default-features --features capi
	$(CARGO) test -p hurah --no-default-features --lib open::

test-rust:
	$(CARGO) test -p hurah -p hurah-cli

test-php: ext lib
	PHP_INI_SCAN_DIR=:$(CURDIR)/tests/php/ini HURAH_EXT=$(CURDIR)/build/hurah.so $(PHPUNIT) -c tests/php/phpunit.xml
	PHP_INI_SCAN_DIR=:$(CURDIR)/tests/php/ini HURAH_EXT=$(CURDIR)/build/hurah.so $(PHPUNIT) -c tests/php/Compat/phpunit.xml

test-c: lib
	$(MAKE) -C tests/c

demo: build
	bash examples/demo.sh

# The README's main job, run by the test command too so CI guards it: it must exit 0 and the
# worker must have run the 7 tasks (3 thumbnailer, one of them failing; 4 auditor).
test-demo: build
	@out=$$(bash examples/demo.sh 2>&1) || { echo "$$out"; echo "test-demo: examples/demo.sh failed"; exit 1; }; \
	echo "$$out" | grep -q 'worker: done, {"handled":7,"succeeded":6,"failed":1' || { echo "$$out"; echo "test-demo: unexpected worker stats"; exit 1; }; \
	echo "test-demo: OK (PHP dispatch -> native worker -> PHP handlers: 7 tasks)"

bench: build
	bash bench/run.sh

# The PostgreSQL section alone (bench/run.sh runs bench/pg.sh at its end): printed, not written.
bench-pg: ext
	bash bench/pg.sh

clean:
	$(CARGO) clean
	rm -rf build

# Installs build/hurah.so into `php-config --extension-dir` and enables it (conf.d ini via
# phpenmod where available). Needs root for the system PHP: `make ext && sudo make install`
# (no dependency on ext, so root never runs cargo). `scripts/install-extension.sh --dry-run`
# shows what it does; DESTDIR=... stages it.
.PHONY: install
install:
	bash scripts/install-extension.sh
