# Sourced by the other scripts: puts the project-local tools (.tools/) first on PATH.
# .tools/node holds Node 24 and pnpm 11 when the machine's own are older; .tools/bin holds FerretDB.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
export PATH="$TOOLS/node/node_modules/.bin:$TOOLS/bin:$PATH"
export BATCH_GPT_ROOT="$ROOT"
