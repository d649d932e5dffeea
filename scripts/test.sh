#!/usr/bin/env bash
# Every test, from a fresh Debian machine: installs dependencies, builds, then runs the Rust
# tests, the PHPUnit suite against build/hurah.so and the C tests (valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
make test
