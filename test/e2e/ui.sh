#!/usr/bin/env bash
# The web UI in a real browser: Debian's chromium driven by playwright-core (test/browser/, run with
# vitest.browser.config.ts) against the production bundle, with images pushed by skopeo. Installs
# chromium and skopeo when missing (as root), builds dist/ (server and UI assets), runs the suite
# and ends with one line `e2e-ui: N passed, M failed`. Screenshots of every page are written to
# test-artifacts/ui/.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

if ! command -v chromium >/dev/null 2>&1 || ! command -v skopeo >/dev/null 2>&1; then
  if ((EUID == 0)); then
    bash scripts/install-e2e-deps.sh || true
  else
    echo "missing chromium or skopeo (run scripts/install-e2e-deps.sh as root)" >&2
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! npm run build >"$log" 2>&1; then
  cat "$log"
  echo "e2e-ui: 0 passed, 1 failed"
  exit 1
fi

npx vitest run --config vitest.browser.config.ts 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
line=$(sed -e 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^\s*Tests\s' | tail -n 1)
passed=$(grep -Eo '[0-9]+ passed' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '[0-9]+ failed' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
if ((rc != 0 && failed == 0)); then failed=1; fi
echo "screenshots: $ROOT/test-artifacts/ui/"
echo "e2e-ui: ${passed:-0} passed, ${failed:-0} failed"
((rc == 0))
