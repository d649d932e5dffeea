#!/usr/bin/env bash
# Installs the hurah PHP extension (build/hurah.so, from `make ext`) into PHP:
#   1. copies it to `php-config --extension-dir` as hurah.so;
#   2. enables it: on Debian/Ubuntu writes <mods-available>/hurah.ini and runs `phpenmod hurah`
#      (every SAPI: cli, fpm, apache2...), elsewhere writes <php-config --ini-dir>/30-hurah.ini;
#   3. checks that `php -m` lists it.
#
# Usage: scripts/install-extension.sh [--dry-run] [--so FILE] [--php-config PATH] [--no-enable]
#   --dry-run          print what would be done, change nothing
#   --so FILE          the extension to install (default: build/hurah.so next to this script)
#   --php-config PATH  the php-config of the PHP to install into (default: php-config, or $PHP_CONFIG)
#   --no-enable        only copy the .so (enable it yourself with extension=hurah.so)
# Environment: DESTDIR=/some/dir stages everything under that directory (packaging): no phpenmod,
# the ini is written directly, no `php -m` check.
# Needs root for the system PHP (run with sudo, or `sudo make install`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
so="$(dirname "$here")/build/hurah.so"
php_config="${PHP_CONFIG:-php-config}"
dry_run=0
enable=1
destdir="${DESTDIR:-}"

while (($#)); do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --so) so="${2:?--so needs a file}"; shift ;;
    --so=*) so="${1#--so=}" ;;
    --php-config) php_config="${2:?--php-config needs a path}"; shift ;;
    --php-config=*) php_config="${1#--php-config=}" ;;
    --no-enable) enable=0 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-extension: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

say() { printf '%s\n' "$*"; }
run() {
  if ((dry_run)); then
    say "would run: $*"
  else
    say "+ $*"
    "$@"
  fi
}
write_file() { # path content
  if ((dry_run)); then
    say "would write $1:"
    printf '%s\n' "$2" | sed 's/^/    /'
  else
    say "+ write $1"
    printf '%s\n' "$2" > "$1"
    chmod 0644 "$1"
  fi
}

if [ ! -f "$so" ]; then
  if ((dry_run)); then
    say "note: $so does not exist yet (make ext builds it)"
  else
    echo "install-extension: $so not found; build it first: make ext" >&2
    exit 1
  fi
fi
if ! command -v "$php_config" >/dev/null 2>&1; then
  echo "install-extension: $php_config not found (Debian: apt-get install php8.2-dev; or pass --php-config)" >&2
  exit 1
fi

ext_dir="$("$php_config" --extension-dir)"
ini_dir="$("$php_config" --ini-dir 2>/dev/null || true)"
php_version="$("$php_config" --version)"
php_bin="$("$php_config" --php-binary 2>/dev/null || echo php)"
mm="${php_version%.*}"                      # 8.2.36 -> 8.2
ini_body="; hurah: crash-safe file-based task queue (hurah/events-native)
; priority=30
extension=hurah.so"

say "PHP $php_version; extension dir: $ext_dir"
run install -d "$destdir$ext_dir"
run install -m 0644 "$so" "$destdir$ext_dir/hurah.so"

if ((enable)); then
  mods="/etc/php/$mm/mods-available"
  if [ -z "$destdir" ] && command -v phpenmod >/dev/null 2>&1 && [ -d "$mods" ]; then
    write_file "$mods/hurah.ini" "$ini_body"
    run phpenmod -v "$mm" hurah
  elif [ -n "$ini_dir" ]; then
    run install -d "$destdir$ini_dir"
    write_file "$destdir$ini_dir/30-hurah.ini" "$ini_body"
  else
    say "no conf.d directory known to $php_config: add 'extension=hurah.so' to your php.ini"
  fi
fi

if ((dry_run)); then
  say "would check: $php_bin -m lists hurah"
elif [ -z "$destdir" ] && ((enable)); then
  if "$php_bin" -m 2>/dev/null | grep -qx hurah; then
    say "ok: $php_bin -m lists hurah $("$php_bin" -r 'echo phpversion("hurah");')"
  else
    echo "install-extension: installed, but '$php_bin -m' does not list hurah (another SAPI or ini dir?)" >&2
    exit 1
  fi
fi
