#!/usr/bin/env bash
# The whole test suite (`make test`): installs what is missing, builds with
# warnings as errors, installs, runs every pg_regress test (test/sql) and
# isolation spec (test/specs) in a throwaway PostgreSQL 15 cluster, then the
# pg_cron tests (test/cron/sql) in a second one started with pg_cron
# preloaded, and ends with the line "N passed, N failed", one test being one
# file.  `bash test/run.sh cron` runs the pg_cron tests alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. test/lib.sh

# Waits up to 30 s until the throwaway server answers a query.
wait_for_server() {
	sleep 1
	for _ in $(seq 30); do
		psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 1
	done
	echo "warning: the server did not answer for 30 s" >&2
}

# Inside pg_virtualenv: runs the regress tests, then the isolation specs, each
# on its own so a regress failure does not skip the specs.  Output goes to the
# console and to $LOYALTY_LOGDIR; exit codes go to $LOYALTY_LOGDIR/status.
# Always exits 0, so pg_virtualenv does not dump the whole server log: the
# summary prints what matters from it.
run_in_cluster() {
	local dir=$LOYALTY_LOGDIR regress_rc=0 iso_rc=0 log
	echo "== cluster: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER"
	make --no-print-directory installcheck PG_CONFIG="$PG_CONFIG" ISOLATION= 2>&1 \
		| tee "$dir/regress.log" || regress_rc=$?
	# After a failure the server may be restarting from a crash: let it.
	[ "$regress_rc" -eq 0 ] || wait_for_server
	make --no-print-directory installcheck PG_CONFIG="$PG_CONFIG" REGRESS= 2>&1 \
		| tee "$dir/isolation.log" || iso_rc=$?
	echo "$regress_rc $iso_rc" >"$dir/status"
	# Column 7 of pg_lsclusters is the log file of the throwaway cluster.
	log=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "regress" { print $7; exit }') || log=
	if [ -n "$log" ] && [ -r "$log" ]; then
		cp "$log" "$dir/server.log" || true
	fi
	return 0
}

# The pg_cron section of README.md, whose blocks the pg_cron tests run.
CRON_SECTION='### Maintenance jobs with pg_cron'

# Prints the fenced code blocks of language $2 (```$2) in the section of
# README.md headed $1.
readme_blocks() {
	awk -v head="$1" -v lang="$2" '
		inblock && /^```/ { inblock = 0; next }
		inblock { if (want) print; next }
		/^```/ { inblock = 1; want = insec && $0 == "```" lang; next }
		/^#+ / { insec = $0 == head }
	' README.md
}

# The server settings of the README's pg_cron section (its ini block), as
# pg_virtualenv options: -o name=value, quotes and comments dropped.
cron_server_options() {
	local line name value
	while IFS= read -r line; do
		line=${line%%#*}
		[[ $line == *=* ]] || continue
		name=$(echo "${line%%=*}" | tr -d "[:space:]")
		value=$(echo "${line#*=}" | tr -d "[:space:]'")
		printf '%s\n' -o "$name=$value"
	done < <(readme_blocks "$CRON_SECTION" ini)
}

# Inside the pg_virtualenv of the pg_cron tests: writes the README's sql
# block where the tests read it, then runs them in the database the
# launcher uses (pg_regress must not drop and create that one).  Output
# goes to output_cron/, the console and $LOYALTY_LOGDIR; the exit code to
# $LOYALTY_LOGDIR/cron_status.  Always exits 0, like run_in_cluster.
run_in_cron_cluster() {
	local dir=$LOYALTY_LOGDIR rc=0 log db tests
	echo "== cluster: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER"
	mkdir -p output_cron
	readme_blocks "$CRON_SECTION" sql >output_cron/readme_pg_cron.sql
	db=$(psql -X -At -d postgres -c 'SHOW cron.database_name' 2>/dev/null) || db=
	tests=$(for f in test/cron/sql/*.sql; do basename "$f" .sql; done | tr '\n' ' ')
	if [ ! -s output_cron/readme_pg_cron.sql ]; then
		echo "error: README.md has no sql block under \"$CRON_SECTION\"" | tee "$dir/cron.log"
		rc=1
	elif [ -z "$db" ]; then
		echo "error: the server has no cron.database_name: pg_cron is not preloaded" | tee "$dir/cron.log"
		rc=1
	else
		make --no-print-directory installcheck PG_CONFIG="$PG_CONFIG" ISOLATION= REGRESS="$tests" \
			REGRESS_OPTS="--inputdir=test/cron --outputdir=output_cron --use-existing --dbname=$db" 2>&1 \
			| tee "$dir/cron.log" || rc=$?
	fi
	echo "$rc" >"$dir/cron_status"
	log=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "regress" { print $7; exit }') || log=
	if [ -n "$log" ] && [ -r "$log" ]; then
		cp "$log" "$dir/cron_server.log" || true
	fi
	return 0
}

# Prints "name result" for each test line of a pg_regress or
# pg_isolation_regress console log.  PostgreSQL 15 prints
#   test 01_card                      ... ok           12 ms
#        01_card                      ... FAILED       12 ms   (parallel group)
#   test 01_card                      ... failed (ignored)
# and 16+ prints TAP: "ok 1 - 01_card  12 ms" / "not ok 1 - 01_card".
# result is ok, failed or ignored.
parse_runner_log() {
	[ -f "$1" ] || return 0
	sed -E -n \
		-e 's/^[[:space:]]*(test[[:space:]]+)?([^[:space:]]+)[[:space:]]+\.\.\.[[:space:]]+ok([[:space:]].*)?$/\2 ok/p' \
		-e 's/^[[:space:]]*(test[[:space:]]+)?([^[:space:]]+)[[:space:]]+\.\.\.[[:space:]]+failed \(ignored\).*$/\2 ignored/p' \
		-e 's/^[[:space:]]*(test[[:space:]]+)?([^[:space:]]+)[[:space:]]+\.\.\.[[:space:]]+FAILED.*$/\2 failed/p' \
		-e 's/^ok[[:space:]]+[0-9]+[[:space:]]+[-+][[:space:]]+([^[:space:]]+).*# \(ignored\).*$/\1 ignored/p' \
		-e 's/^not ok[[:space:]]+[0-9]+[[:space:]]+[-+][[:space:]]+([^[:space:]]+).*$/\1 failed/p' \
		-e '/# \(ignored\)/!s/^ok[[:space:]]+[0-9]+[[:space:]]+[-+][[:space:]]+([^[:space:]]+).*$/\1 ok/p' \
		"$1"
}

# Where pg_regress (outputdir ".") and pg_isolation_regress (outputdir
# output_iso) find the expected output of test $2 of kind $1, if anywhere:
# each looks in <outputdir>/expected, then in <inputdir>/expected = test/expected
# (the pg_cron tests: output_cron, test/cron).
expected_file() {
	local f
	if [ "$1" = regress ]; then
		for f in "expected/$2.out" "test/expected/$2.out"; do
			[ -f "$f" ] && { echo "$f"; return 0; }
		done
	elif [ "$1" = cron ]; then
		for f in "output_cron/expected/$2.out" "test/cron/expected/$2.out"; do
			[ -f "$f" ] && { echo "$f"; return 0; }
		done
	else
		for f in "output_iso/expected/$2.out" "test/expected/$2.out"; do
			[ -f "$f" ] && { echo "$f"; return 0; }
		done
	fi
	return 0
}

# Where the runner writes the actual output of test $2 of kind $1.
result_file() {
	case $1 in
	regress) echo "results/$2.out" ;;
	cron) echo "output_cron/results/$2.out" ;;
	*) echo "output_iso/results/$2.out" ;;
	esac
}

# Counts one kind of test: $1 label, $2 runner log, $3 glob of test files,
# $4 file suffix.  Adds to the globals passed/failed and lists problems.
count_tests() {
	local label=$1 log=$2 suffix=$4 file name result
	local -A seen=()
	while read -r name result; do
		[ -n "$name" ] || continue
		seen[$name]=$result
	done < <(parse_runner_log "$log")
	for file in $3; do
		[ -e "$file" ] || continue
		name=$(basename "$file" "$suffix")
		case ${seen[$name]:-missing} in
		ok) passed=$((passed + 1)) ;;
		ignored)
			passed=$((passed + 1))
			echo "note: $label test $name failed but is marked ignore"
			;;
		failed)
			failed=$((failed + 1))
			failures+=("$label $name")
			;;
		*)
			failed=$((failed + 1))
			result=$(result_file "$label" "$name")
			if [ -z "$(expected_file "$label" "$name")" ] && [ -f "$result" ]; then
				failures+=("$label $name (no expected file, its output is in $result; the runner stopped there)")
			elif [ -z "$(expected_file "$label" "$name")" ]; then
				failures+=("$label $name (no expected file)")
			else
				failures+=("$label $name (did not run)")
			fi
			;;
		esac
	done
}

# Informative: pgTAP assertions in the regress results, and plan problems.
summarize_pgtap() {
	local files ok=0 notok=0 d dirs=()
	for d in results output_cron/results; do
		[ -d "$d" ] && dirs+=("$d")
	done
	[ "${#dirs[@]}" -gt 0 ] || return 0
	files=$(find "${dirs[@]}" -maxdepth 1 -name '*.out' 2>/dev/null | sort) || files=
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086
	ok=$(cat $files | grep -cE '^ok [0-9]+') || ok=0
	# shellcheck disable=SC2086
	notok=$(cat $files | grep -cE '^not ok [0-9]+') || notok=0
	echo "pgTAP assertions: $ok ok, $notok not ok, in $(echo "$files" | wc -l) result files"
	# shellcheck disable=SC2086
	grep -HE '^# (Looks like|Failed test)' $files | head -n 40 || true
}

# Prints a diff file, at most 2000 lines of it.
print_diffs() {
	local file=$1 lines
	[ -s "$file" ] || return 0
	lines=$(wc -l <"$file")
	echo "======== $file ========"
	head -n 2000 "$file"
	if [ "$lines" -gt 2000 ]; then
		echo "... ($lines lines in all, see $file)"
	fi
}

main() {
	local vrc=0 regress_rc=x iso_rc=x cvrc=0 cron_rc=x crashes only=${1:-} opts
	if ! prepare_loyalty verbose; then
		echo "0 passed, 1 failed"
		exit 1
	fi

	# Global: the EXIT trap runs after main has returned.
	dir=$(mktemp -d -t loyalty-test.XXXXXX)
	trap 'rm -rf "$dir"' EXIT
	chmod 755 "$dir"
	rm -rf results output_iso output_cron regression.diffs regression.out

	if [ "$only" != cron ]; then
		echo "== running the tests in a throwaway PostgreSQL $PG_MAJOR cluster"
		LOYALTY_LOGDIR=$dir pg_virtualenv -t -v "$PG_MAJOR" bash test/run.sh --in-cluster </dev/null \
			|| vrc=$?
		if [ -f "$dir/status" ]; then
			read -r regress_rc iso_rc <"$dir/status"
		else
			echo "error: pg_virtualenv failed (exit $vrc) before the tests ran"
		fi
	fi

	# pg_virtualenv run as root names every cluster 15/regress: the second
	# starts once the first is gone.  Its settings are the README's.
	mapfile -t opts < <(cron_server_options)
	echo "== running the pg_cron tests in a throwaway PostgreSQL $PG_MAJOR cluster (${opts[*]})"
	if [ "${#opts[@]}" -eq 0 ]; then
		echo "error: README.md has no ini block under \"$CRON_SECTION\""
		cvrc=1
	else
		LOYALTY_LOGDIR=$dir pg_virtualenv -t -v "$PG_MAJOR" "${opts[@]}" \
			bash test/run.sh --in-cron-cluster </dev/null || cvrc=$?
	fi
	if [ -f "$dir/cron_status" ]; then
		read -r cron_rc <"$dir/cron_status"
	else
		echo "error: pg_virtualenv failed (exit $cvrc) before the pg_cron tests ran"
	fi

	passed=0 failed=0 failures=()
	echo
	echo "======== summary ========"
	if [ "$only" != cron ]; then
		count_tests regress "$dir/regress.log" 'test/sql/*.sql' .sql
		count_tests isolation "$dir/isolation.log" 'test/specs/*.spec' .spec
	fi
	count_tests cron "$dir/cron.log" 'test/cron/sql/*.sql' .sql
	summarize_pgtap

	# A runner that failed without a failed test (a setup error) is a failure too.
	if { [ "$only" != cron ] && { [ "$regress_rc" != 0 ] || [ "$iso_rc" != 0 ] || [ "$vrc" != 0 ]; }; } \
		|| [ "$cron_rc" != 0 ] || [ "$cvrc" != 0 ]; then
		if [ "${#failures[@]}" -eq 0 ]; then
			failed=$((failed + 1))
			failures+=("runner error (regress exit $regress_rc, isolation exit $iso_rc, pg_virtualenv exit $vrc; pg_cron tests exit $cron_rc, pg_virtualenv exit $cvrc)")
		fi
	fi
	if [ $((passed + failed)) -eq 0 ]; then
		failed=1
		failures+=("no tests found in test/sql or test/specs")
	fi

	if [ "$failed" -gt 0 ]; then
		print_diffs regression.diffs
		print_diffs output_iso/regression.diffs
		print_diffs output_cron/regression.diffs
		crashes=$(grep -E 'terminated by signal|PANIC|TRAP:|server process .* exited' \
			"$dir/server.log" "$dir/cron_server.log" 2>/dev/null | head -n 50) || crashes=
		if [ -n "$crashes" ]; then
			echo "======== server log: crashes ========"
			echo "$crashes"
		fi
		echo "======== failed ========"
		printf '  %s\n' "${failures[@]}"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

case ${1:-} in
--in-cluster) run_in_cluster ;;
--in-cron-cluster) run_in_cron_cluster ;;
cron) main cron ;;
'') main ;;
*)
	echo "usage: bash test/run.sh [cron]" >&2
	exit 2
	;;
esac
