#!/usr/bin/env bash
# Installs the Debian 12 packages kevo builds with, only those missing. Idempotent; needs root
# (or sudo) only when something is missing. The CUDA toolkit is not a Debian package: it must be
# at /usr/local/cuda (or CUDAToolkit_ROOT).
set -euo pipefail

packages=(cmake ninja-build g++ pkg-config libcurl4-openssl-dev nlohmann-json3-dev libboost-dev
          libboost-filesystem-dev libsqlite3-dev libspdlog-dev libgtest-dev libgmock-dev
          libcli11-dev libyaml-cpp-dev libseccomp-dev patchelf python3 ccache
          libcpp-httplib-dev zlib1g-dev chromium python3-matplotlib clang-format
          libpq-dev postgresql)
# kevo serve: libcpp-httplib-dev (the server); its browser tests: chromium (headless) and
# zlib1g-dev (they decode its PNG screenshots). kevo report: python3-matplotlib (its figures).
# The format check of the tests (scripts/check_format.py): clang-format.
# The PostgreSQL archive: libpq-dev (the client library kevo links); its tests: postgresql (the
# server binaries, for the throwaway server scripts/pg_test_server.sh starts; no service is run).

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cuda_root="${CUDAToolkit_ROOT:-/usr/local/cuda}"
if [ ! -f "$cuda_root/include/nvrtc.h" ] || [ ! -f "$cuda_root/include/cuda.h" ]; then
  echo "setup: the CUDA toolkit (13.x) was not found at $cuda_root (no include/nvrtc.h);" \
       "install it there or set CUDAToolkit_ROOT" >&2
  exit 1
fi
