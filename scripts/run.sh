#!/usr/bin/env bash
# Entry point behind the root package.json scripts, so they work from the machine's own npm:
# it installs what is missing (scripts/setup.sh), then runs the step under Node 24.
#   run.sh dev          whole stack on this machine (scripts/dev.ts)
#   run.sh test         lint, typecheck, every test (services started by the test setup), the quick bench
#   run.sh check        lint and typecheck only
#   run.sh bench        the benchmarks (bench/run.ts; flags: --help)
#   run.sh soak         the soak: load, kills and faults, then an audit (bench/soak.ts; flags: --help)
#   run.sh app <name>   one app in the foreground; never starts servers
#   run.sh cli ARGS     the operator CLI (`pnpm batch-gpt ARGS`); no setup step, so it answers at once
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools-env.sh"
cd "$ROOT"
cmd="${1:?usage: run.sh dev|test|check|bench|soak|app <name>}"
shift || true

check() {
  pnpm exec biome check .
  pnpm exec tsc -p tsconfig.json
}

case "$cmd" in
  dev) bash scripts/setup.sh services; exec node scripts/dev.ts "$@" ;;
  test)
    bash scripts/setup.sh test
    check
    # With arguments (a test file, a filter) only those tests; else every test, then the benchmarks'
    # short version, which fails only when a scenario cannot run (its figures are reported, not judged).
    if [ "$#" -gt 0 ]; then exec pnpm exec vitest run "$@"; fi
    pnpm exec vitest run
    node bench/run.ts --quick
    ;;
  check) bash scripts/setup.sh base; check ;;
  bench) bash scripts/setup.sh services; exec node bench/run.ts "$@" ;;
  soak) bash scripts/setup.sh services; exec node bench/soak.ts "$@" ;;
  app)
    name="${1:?usage: run.sh app <gateway|collator|poller|openai-emulator>}"
    bash scripts/setup.sh base
    # The flags every launcher gives each app (APP_NODE_FLAGS in packages/local-services).
    if [ "$name" = gateway ]; then flags="--max-semi-space-size=16"; else flags="--max-semi-space-size=8"; fi
    # And the compile cache (COMPILE_CACHE_DIR there): a start that finds every file in it never loads
    # Node's TypeScript compiler, about 20 MB less for the life of the process.
    export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE-$PWD/.data/node-compile-cache}"
    exec node $flags "apps/$name/src/main.ts"
    ;;
  cli) exec node apps/cli/src/main.ts "$@" ;;
  *) echo "unknown command: $cmd" >&2; exit 2 ;;
esac
