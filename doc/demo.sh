#!/usr/bin/env bash
# The guided demo (`make demo`): installs what is missing, builds and installs
# loyalty like `make test`, then runs doc/demo.sql in a throwaway PostgreSQL 15
# cluster.  demo.sql narrates with \echo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. test/lib.sh

echo "== building and installing loyalty"
prepare_loyalty quiet || exit 1
if [ ! -f doc/demo.sql ]; then
	echo "error: doc/demo.sql is missing" >&2
	exit 1
fi
echo "== running doc/demo.sql in a throwaway PostgreSQL $PG_MAJOR cluster"
pg_virtualenv -t -v "$PG_MAJOR" psql -X -q -v ON_ERROR_STOP=1 -f doc/demo.sql </dev/null
