#!/usr/bin/env bash
# The dependency audit of CI (docs/security.md#dependency-audit): fails when a production dependency has a known
# vulnerability of severity high or critical (`npm audit --omit=dev --audit-level=high`). Development-only
# dependencies (test runner, linters, browser driver) and low/moderate findings are reported, not fatal.
# When the registry's audit endpoint cannot be asked (offline, a mirror or proxy without it), it warns and exits 0:
# CI must not depend on that service being up — the audit then runs on the next build that reaches it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

report=$(npm audit --omit=dev --json 2>/dev/null)
# The report has `metadata.vulnerabilities` when the endpoint answered; an `error` (or nothing) when it did not.
summary=$(printf '%s' "$report" | node -e '
  let text = "";
  process.stdin.on("data", (d) => (text += d)).on("end", () => {
    let report;
    try { report = JSON.parse(text); } catch { report = undefined; }
    const counts = report?.metadata?.vulnerabilities;
    if (!counts) {
      const why = report?.error?.summary || report?.message || "no answer";
      console.log(`unreachable ${why.replace(/\s+/g, " ")}`);
      return;
    }
    const high = (counts.high ?? 0) + (counts.critical ?? 0);
    console.log(`${high > 0 ? "fail" : "ok"} critical=${counts.critical ?? 0} high=${counts.high ?? 0} moderate=${counts.moderate ?? 0} low=${counts.low ?? 0}`);
  });
')
case "$summary" in
  ok*)
    echo "npm audit (production dependencies): no high or critical vulnerability (${summary#ok })"
    ;;
  fail*)
    echo "npm audit (production dependencies): ${summary#fail } — high or critical vulnerabilities:" >&2
    npm audit --omit=dev --audit-level=high >&2 || true
    echo "fix: upgrade the dependency (npm audit fix, or a newer version in package.json); see docs/security.md#dependency-audit" >&2
    exit 1
    ;;
  *)
    echo "warning: npm audit could not reach the registry's audit endpoint (${summary#unreachable }); skipped, not failed" >&2
    ;;
esac
