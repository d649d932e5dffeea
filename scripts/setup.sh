#!/usr/bin/env bash
# Installs what building and testing hurah needs on Debian 12 (bookworm): PHP 8.2 headers and
# CLI, libclang (ext-php-rs runs bindgen), PHPUnit, valgrind, a C compiler and cbindgen.
# Safe to run again: it only installs what is missing.
set -euo pipefail

need=()
for pkg in php8.2-dev php8.2-cli libclang-dev phpunit valgrind gcc make pkg-config php-psr-event-dispatcher php-psr-container php-psr-log; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi
if ! command -v cbindgen >/dev/null 2>&1; then
  echo "setup: installing cbindgen (generates include/hurah.h)"
  cargo install cbindgen --locked --version '^0.29'
fi
