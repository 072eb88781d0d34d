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
coherence=.tmp/jest-coherence-results.json
rm -f "$coherence"
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--experimental-vm-modules"
if [[ $# -eq 0 ]]; then
  # The whole suite: everything but the coherence run, then the coherence run alone (it loads the machine with three
  # app processes, PostgreSQL and injected faults; beside other suites it would make their timing noisy).
  JEST_SKIP_COHERENCE=1 npx jest --coverage --json --outputFile="$results" || status=$?
  echo "==> jest test/coherence/coherence.spec.ts (alone)"
  npx jest --json --outputFile="$coherence" test/coherence/coherence.spec.ts || status=$?
else
  npx jest --coverage --json --outputFile="$results" "$@" || status=$?
fi

# A plain closing line that any CI can read, after Jest's own summary (both runs summed).
if [[ -s "$results" ]]; then
  node -e '
    const fs = require("fs");
    const runs = process.argv.slice(1).filter((f) => fs.existsSync(f) && fs.statSync(f).size > 0);
    const sum = (k) => runs.reduce((n, f) => n + JSON.parse(fs.readFileSync(f, "utf8"))[k], 0);
    console.log(`jest: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`);
  ' "$results" "$coherence" || true
fi
exit "$status"
