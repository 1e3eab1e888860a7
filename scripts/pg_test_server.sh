#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suites and benchmarks: initdb in a temporary folder,
# a Unix socket in that folder (no TCP), trust authentication for the user `kevo`, fsync off (the
# data dies with the folder anyway). Run as root, the server runs as the unprivileged `nobody`
# (PostgreSQL refuses to run as root).
#
#   url=$(scripts/pg_test_server.sh start DIR)   # prints the URL for KEVO_TEST_PG; DIR is created
#   KEVO_TEST_PG=$url ctest ...                  # the PostgreSQL tests use it
#   scripts/pg_test_server.sh stop DIR           # stops the server and removes DIR
#
# Needs Debian's `postgresql` package (initdb, pg_ctl under /usr/lib/postgresql/<version>/bin), or
# the unpacked archive of scripts/pg_bundle.sh named by KEVO_PG_ROOT (its binaries then take their
# libraries from KEVO_PG_ROOT/deps). The server runs in GMT, which needs no time zone files.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [[ -z "$cmd" || -z "$dir" ]]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi

bindir=""
libs=""
if [[ -n "${KEVO_PG_ROOT:-}" ]]; then
  for d in "$KEVO_PG_ROOT"/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" ]] && bindir=$d
  done
  libs="$KEVO_PG_ROOT/deps"
else
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" ]] && bindir=$d
  done
fi
if [[ -z "$bindir" ]]; then
  echo "pg_test_server: no PostgreSQL server binaries (apt-get install postgresql)" >&2
  exit 1
fi

# Runs a server binary as the owner of the data folder.
as_owner() {
  if [[ "$(id -u)" -eq 0 ]]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups env -i PATH=/usr/bin:/bin LANG=C.UTF-8 \
      TZ=GMT LD_LIBRARY_PATH="$libs" "$@"
  else
    env TZ=GMT LD_LIBRARY_PATH="$libs" "$@"
  fi
}

port=54329  # names the socket file only: there is no TCP listener
case "$cmd" in
  start)
    mkdir -p "$dir"
    [[ "$(id -u)" -eq 0 ]] && chown nobody:nogroup "$dir"
    chmod 700 "$dir"
    as_owner "$bindir/initdb" -D "$dir/data" -U kevo --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # Root reaches the socket through the 0700 folder; other users would need 0755.
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir' -p $port -c fsync=off \
          -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
          -c shared_buffers=32MB" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql:///postgres?host=$dir&port=$port&user=kevo"
    ;;
  stop)
    if [[ -d "$dir/data" ]]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
