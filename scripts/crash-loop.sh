#!/usr/bin/env bash
# The long crash loop of issue 4: `tributary run` is killed with SIGKILL many times (default 100) at random
# moments — during the snapshot, while streaming, right after a checkpoint, inside a sink commit, at start-up —
# while a writer changes the source; at the end the target must equal the source row for row and by checksum,
# and the sink must never have applied an older image of a row after a newer one. The loop runs twice: in upsert
# mode, and in append mode, where the changelog must hold each snapshot row and each source change (counted by
# triggers on the source) exactly once and fold back into the source table.
#
#   scripts/crash-loop.sh                 # 100 kills, a random seed (printed)
#   scripts/crash-loop.sh 250             # 250 kills
#   TRIBUTARY_CRASH_SEED=123 scripts/crash-loop.sh 100   # replay the decisions of a failed run
#   TRIBUTARY_CRASH_ROWS=500000 scripts/crash-loop.sh    # the first table's rows (default 200 000; the second has half)
#
# It starts its own MariaDB and PostgreSQL (as `npm test` does) unless TRIBUTARY_TEST_MYSQL_URL and
# TRIBUTARY_TEST_POSTGRES_URL name existing servers. Figures (kills by moment and by committed position,
# writer operations, rows checked, checksums, stale applies) are printed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export TRIBUTARY_CRASH_KILLS="${1:-${TRIBUTARY_CRASH_KILLS:-100}}"
# A snapshot long enough that many kills land in it (the test alone uses 40 000 + 20 000 rows).
export TRIBUTARY_CRASH_ROWS="${TRIBUTARY_CRASH_ROWS:-200000}"
npm run build --silent
exec npx vitest run --project integration test/faults-crash-loop.int.test.ts
