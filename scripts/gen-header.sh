#!/usr/bin/env bash
# Generates the C header from src/capi with cbindgen (configuration: cbindgen.toml).
#
#   scripts/gen-header.sh            write include/hurah.h
#   scripts/gen-header.sh PATH       write PATH
#   scripts/gen-header.sh --check    fail (exit 1, with a diff) if include/hurah.h is not what
#                                    the sources generate; CI runs this
#
# cbindgen is installed with `cargo install --locked` when missing or not the pinned version
# (the output can differ between cbindgen versions, so CI and developers use the same one).
set -euo pipefail

CBINDGEN_VERSION=0.29.4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if ! command -v cbindgen >/dev/null 2>&1 \
    || [ "$(cbindgen --version | awk '{print $2}')" != "$CBINDGEN_VERSION" ]; then
    echo "installing cbindgen $CBINDGEN_VERSION" >&2
    cargo install cbindgen --locked --version "$CBINDGEN_VERSION" >&2
    export PATH="$HOME/.cargo/bin:$PATH"
fi

generate() {
    # cbindgen warns about every core item it skips (and the `capi` feature gate); those lines
    # are expected, anything else is shown.
    cbindgen --config cbindgen.toml --crate hurah --output "$1" 2> >(
        grep -v -e '^WARN: Skip' -e '^WARN: Skipping' -e 'feature = "capi"' -e "Can't find State" >&2 || true
    )
}

case "${1:-}" in
--check)
    tmp="$(mktemp)"
    trap 'rm -f "$tmp"' EXIT
    generate "$tmp"
    if ! diff -u include/hurah.h "$tmp"; then
        echo "include/hurah.h is out of date: run scripts/gen-header.sh and commit it" >&2
        exit 1
    fi
    echo "include/hurah.h is up to date"
    ;;
"")
    generate include/hurah.h
    echo "wrote include/hurah.h"
    ;;
*)
    mkdir -p "$(dirname "$1")"
    generate "$1"
    echo "wrote $1"
    ;;
esac
