#!/usr/bin/env bash
# Type-checks apps, libs and tests (swc in Jest does not), then runs every Jest project with coverage.
# Extra arguments go to Jest, e.g. `npm test -- test/harness` or `bash scripts/test.sh --selectProjects unit`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> tsc --noEmit (tsconfig.json)"
npx tsc -p tsconfig.json --noEmit

echo "==> jest --coverage $*"
mkdir -p .tmp
results=.tmp/jest-results.json
rm -f "$results"
status=0
NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--experimental-vm-modules" \
  npx jest --coverage --json --outputFile="$results" "$@" || status=$?

# A plain closing line that any CI can read, after Jest's own summary.
if [[ -s "$results" ]]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' "$results" || true
fi
exit "$status"
