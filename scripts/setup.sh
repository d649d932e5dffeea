#!/usr/bin/env bash
# Installs what building and testing hurah needs on Debian 12 (bookworm): PHP 8.2 headers and
# CLI, PDO pgsql (bench/pg.sh), libclang (ext-php-rs runs bindgen), PHPUnit, valgrind, a C
# compiler and cbindgen.
# Safe to run again: it only installs what is missing.
set -euo pipefail

need=()
for pkg in php8.2-dev php8.2-cli php8.2-pgsql libclang-dev phpunit valgrind gcc binutils make pkg-config php-psr-event-dispatcher php-psr-container php-psr-log composer; do
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

# PostgreSQL backend (src/pg): its tests (tests/pg_*.rs, tests/backend_behaviour.rs) need a real
# server and create a throw-away database per test on $HURAH_TEST_PG (default
# postgresql://postgres@127.0.0.1:5432/postgres). Uses the server already listening on
# 127.0.0.1:5432 if there is one; otherwise installs Debian's postgresql, starts its cluster and
# lets the postgres role in over 127.0.0.1 without a password (a test machine). TLS
# (sslmode=prefer/require) uses rustls, so no OpenSSL headers are needed.
ensure_postgres() {
  local SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  if [ -n "${HURAH_TEST_PG:-}" ]; then
    echo "setup: PostgreSQL tests use HURAH_TEST_PG (not checked here)"
    return 0
  fi
  pg_up() {
    if command -v pg_isready >/dev/null 2>&1; then
      pg_isready -q -h 127.0.0.1 -p 5432
    else
      (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
  }
  if pg_up; then
    echo "setup: using the PostgreSQL server on 127.0.0.1:5432"
    return 0
  fi
  if ! dpkg -s postgresql >/dev/null 2>&1; then
    echo "setup: installing postgresql"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends postgresql
  fi
  local ver
  ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$ver main"; then
    $SUDO pg_createcluster "$ver" main
  fi
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if ! $SUDO grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
    # First match wins: put the test rule on top.
    $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  fi
  $SUDO pg_ctlcluster "$ver" main start 2>/dev/null || $SUDO pg_ctlcluster "$ver" main reload
  for _ in $(seq 1 50); do
    if pg_up; then
      echo "setup: PostgreSQL $ver started on 127.0.0.1:5432"
      return 0
    fi
    sleep 0.2
  done
  echo "setup: PostgreSQL did not come up on 127.0.0.1:5432" >&2
  return 1
}
ensure_postgres
