#!/usr/bin/env bash
# Exactly once through kill -9 with many tables (issue 21): T tables (default 10,000) × 10 rows into a PostgreSQL
# with the default lock table; `tributary run` is killed with SIGKILL once during the snapshot and once while
# changes spread across the tables stream, restarted each time, and the target must equal the source table by
# table. Prints start-up time, snapshot rows/s, peak RSS and checkpoint size on the way (bench/many-tables-scale.ts).
#
#   scripts/many-tables-kill9.sh            # 10,000 tables
#   scripts/many-tables-kill9.sh 1000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run build --silent
npx tsc -p bench/tsconfig.json
exec node dist/bench/bench/many-tables-scale.js --tables "${1:-10000}" --kill9
