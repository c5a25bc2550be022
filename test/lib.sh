# shellcheck shell=bash
# Shared steps for test/run.sh and doc/demo.sh: install PostgreSQL 15 and the
# build tools when missing, then build (warnings are errors) and install loyalty.
# Sourced, not run.  Every function returns non-zero on failure instead of
# exiting, because callers use them in `||` lists, where `set -e` is off.

PG_MAJOR=15
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config

# Debian packages the build and the tests need.  libc6-dev is only a Recommends
# of gcc, so --no-install-recommends would leave out the C headers without it.
# postgresql-15-cron (pg_cron 1.4) is for the pg_cron tests (test/cron).
LOYALTY_PACKAGES=(
	"postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" "postgresql-$PG_MAJOR-pgtap"
	"postgresql-$PG_MAJOR-cron" postgresql-common make gcc libc6-dev
)

# Warnings are errors.  -Wall -Wextra stay on; the only one turned off is
# noise from PostgreSQL itself:
#   -Wno-unused-parameter  PostgreSQL 15's headers trip it (fmgr.h's fcinfo in
#                          every PG_FUNCTION_ARGS, ilist.h, bufpage.h inlines)
# PostgreSQL's own CFLAGS (from pg_config) add -Wdeclaration-after-statement
# and -Wmissing-prototypes, so those are errors too.
LOYALTY_CFLAGS="-Wall -Wextra -Werror -Wno-unused-parameter"

# Runs a command as root: directly when root, else through sudo (never
# prompting without a terminal, so CI fails fast instead of hanging).
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
	else
		echo "error: need root or sudo to run: $*" >&2
		return 1
	fi
}

# Installs the missing Debian packages, if any; touches apt only when needed.
ensure_packages() {
	local missing=() pkg status
	for pkg in "${LOYALTY_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) || status=
		[ "$status" = installed ] || missing+=("$pkg")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		return 0
	fi
	echo "== installing missing packages: ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" </dev/null || return 1
}

# Builds from clean with warnings as errors, then installs into PostgreSQL 15.
build_and_install() {
	echo "== building loyalty (PG_CFLAGS=$LOYALTY_CFLAGS)"
	make --no-print-directory clean PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
	make --no-print-directory PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$LOYALTY_CFLAGS" || return 1
	echo "== installing loyalty"
	as_root make --no-print-directory install PG_CONFIG="$PG_CONFIG" \
		PG_CFLAGS="$LOYALTY_CFLAGS" || return 1
}

# Both steps; the caller decides what a failure prints.  With $1 = quiet the
# build's output is shown only when it fails (else: verbose).
prepare_loyalty() {
	local log rc=0
	ensure_packages || { echo "error: installing packages failed" >&2; return 1; }
	if [ ! -x "$PG_CONFIG" ]; then
		echo "error: $PG_CONFIG is missing" >&2
		return 1
	fi
	if [ "${1:-}" = quiet ]; then
		log=$(mktemp -t loyalty-build.XXXXXX) || return 1
		build_and_install >"$log" 2>&1 || rc=$?
		[ "$rc" -eq 0 ] || cat "$log"
		rm -f "$log"
	else
		build_and_install || rc=$?
	fi
	[ "$rc" -eq 0 ] || { echo "error: build or install failed" >&2; return 1; }
}

# Same locale on every machine, so collation and messages don't vary; the
# throwaway cluster takes it from the environment.
export LC_ALL=C.UTF-8 LANG=C.UTF-8
unset LANGUAGE
