# loyalty: PGXS build.  `make test` and `make demo` also work on a machine
# without PostgreSQL: they install what they need (see README.md).

EXTENSION = loyalty
EXTVERSION = 0.3.0
PREVIOUS = 0.2.0

MODULE_big = loyalty
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script of the current version is concatenated from numbered
# pieces in sql/parts/.  Released versions are frozen files next to it, with
# an upgrade script from each to the next (sql/loyalty--A--B.sql).
SQL_PARTS = $(sort $(wildcard sql/parts/*.sql))
# The update from the previous release: sql/update/PREVIOUS--EXTVERSION.sql
# (changes to objects the previous release has), then the parts new in this
# release, written so that the same statements serve a fresh install and an
# update (new columns go through ALTER TABLE in the new part, not into an
# older part's CREATE TABLE).
NEW_PARTS = \
	sql/parts/62_retired_sources.sql \
	sql/parts/66_order_currency.sql \
	sql/parts/75_window.sql \
	sql/parts/78_events.sql \
	sql/parts/80_expiry.sql \
	sql/parts/84_reminders.sql \
	sql/parts/85_tiers.sql \
	sql/parts/86_birthday.sql \
	sql/parts/87_accrual_problems.sql \
	sql/parts/88_fraud.sql \
	sql/parts/89_bi.sql
UPDATE_SCRIPT = sql/$(EXTENSION)--$(PREVIOUS)--$(EXTVERSION).sql
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql $(UPDATE_SCRIPT)
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

TESTS = $(sort $(wildcard test/sql/*.sql))
REGRESS = $(patsubst test/sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --inputdir=test --load-extension=pgtap

ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test

EXTRA_CLEAN = $(DATA_built) output_cron

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

ifneq ($(PGXS),)
include $(PGXS)
else
all install installcheck:
	@echo "pg_config not found: run 'make test' or 'make demo' to install PostgreSQL first" >&2
	@exit 1
endif

# PGXS tracks no header dependencies here: every object is rebuilt when a
# header changes, so that no two objects disagree on a struct's layout.
$(OBJS): $(wildcard src/*.h)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

$(UPDATE_SCRIPT): sql/update/$(PREVIOUS)--$(EXTVERSION).sql $(NEW_PARTS)
	cat $^ > $@

.PHONY: test demo bench
# The whole test suite in a throwaway cluster; ends with "N passed, N failed".
test:
	@bash test/run.sh

# The guided demo in a throwaway cluster.
demo:
	@bash doc/demo.sh

# The accrual benchmark (bench/README.md); writes bench/results.md.
bench:
	@bash bench/run.sh
