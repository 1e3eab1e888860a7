#!/usr/bin/env bash
# Packs this machine's PostgreSQL server (Debian 12's postgresql-15: initdb, postgres, pg_ctl) into
# one relocatable archive, for a GPU machine that has no PostgreSQL and no package manager
# (scripts/gpu_multi_demo.sh unpacks and starts it). Usage: scripts/pg_bundle.sh OUT_DIR
#
# OUT_DIR/pg.tar.xz holds, under pg/:
#   lib/postgresql/15/bin/{initdb,postgres,pg_ctl}  PostgreSQL finds its share/ and lib/ relative
#   lib/postgresql/15/lib/ (the modules initdb loads)  to the binaries when the tail of their path
#   share/postgresql/15/                               is as built (lib/postgresql/15/bin)
#   deps/   every shared library the three need except glibc's own (the target's glibc is newer:
#           Ubuntu 24.04 has 2.39, Debian 12 builds against 2.36); used through LD_LIBRARY_PATH
#           by the three binaries only, so kevo never loads them.
# ICU's data (libicudata.so.72, 30 MB) dominates; xz brings the whole to about 20 MiB.
# The time zone files are the system's (/usr/share/zoneinfo, compiled in): start the server with
# timezone=GMT, which PostgreSQL knows without files.
set -euo pipefail
out=${1:-}
if [[ -z "$out" ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
ver=15
bindir=/usr/lib/postgresql/$ver/bin
if [[ ! -x $bindir/postgres ]]; then
  echo "pg_bundle: no PostgreSQL $ver server at $bindir (apt-get install postgresql-$ver)" >&2
  exit 1
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/pg
mkdir -p "$root/lib/postgresql/$ver/bin" "$root/lib/postgresql/$ver/lib" "$root/share/postgresql" \
  "$root/deps"
cp -a "$bindir/initdb" "$bindir/postgres" "$bindir/pg_ctl" "$root/lib/postgresql/$ver/bin/"
# The modules initdb and a plain server load (no JIT bitcode, no contrib).
for m in plpgsql dict_snowball libpqwalreceiver; do
  cp -a "/usr/lib/postgresql/$ver/lib/$m.so" "$root/lib/postgresql/$ver/lib/"
done
cp -a "/usr/lib/postgresql/$ver/lib/"*_and_*.so "/usr/lib/postgresql/$ver/lib/utf8_and_"*.so \
  "$root/lib/postgresql/$ver/lib/" 2>/dev/null || true
cp -a "/usr/share/postgresql/$ver" "$root/share/postgresql/"
rm -rf "$root/share/postgresql/$ver/man" "$root/share/postgresql/$ver/contrib" \
  "$root/share/postgresql/$ver/extension"/[!p]* 2>/dev/null || true
# Shared libraries, glibc's excluded.
for b in "$root/lib/postgresql/$ver/bin/"* "$root/lib/postgresql/$ver/lib/"*.so; do
  ldd "$b" | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libresolv.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*) ;;
    *) cp -L "$lib" "$root/deps/" ;;
  esac
done
mkdir -p "$out"
tar -C "$stage" -cJf "$out/pg.tar.xz" pg
echo "pg_bundle: $out/pg.tar.xz ($(du -h "$out/pg.tar.xz" | cut -f1); unpacked $(du -sh "$root" | cut -f1))"
