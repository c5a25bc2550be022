\i test/setup.sql
-- pg_dump of a database holding loyalty data, restored into a new database,
-- gives the same programs, members, balances, lots and ledger; both as a
-- plain SQL script and in the custom format through pg_restore.
\set home_db :DBNAME
\! dropdb --if-exists loyalty_dump_src 2>/dev/null; dropdb --if-exists loyalty_dump_plain 2>/dev/null; dropdb --if-exists loyalty_dump_custom 2>/dev/null
\! createdb loyalty_dump_src && psql -X -q -d loyalty_dump_src -f test/fixtures/dump_source.sql
\c loyalty_dump_src
\i test/fixtures/dump_fingerprint.sql
\set src_program :fp_program
\set src_member :fp_member
\set src_account :fp_account
\set src_lot :fp_lot
\set src_ledger :fp_ledger
\set src_card_counter :fp_card_counter
\set src_n_ledger :n_ledger
\! createdb loyalty_dump_plain && pg_dump -d loyalty_dump_src | psql -X -q -v ON_ERROR_STOP=1 -d loyalty_dump_plain >/dev/null
\! createdb loyalty_dump_custom && pg_dump -Fc -d loyalty_dump_src -f /tmp/loyalty_dump_test.dump && pg_restore --exit-on-error -d loyalty_dump_custom /tmp/loyalty_dump_test.dump

\c loyalty_dump_plain
\i test/setup.sql
CREATE EXTENSION pgtap;
BEGIN;
SELECT plan(12);
\i test/fixtures/dump_fingerprint.sql
SELECT ok(:'src_n_ledger'::int > 50, 'the source holds a realistic ledger');
SELECT is(:'fp_program'::text, :'src_program'::text, 'plain dump: programs restored');
SELECT is(:'fp_member'::text, :'src_member'::text, 'plain dump: members restored with cards, birthdays and status');
SELECT is(:'fp_account'::text, :'src_account'::text, 'plain dump: balances restored');
SELECT is(:'fp_lot'::text, :'src_lot'::text, 'plain dump: lots restored');
SELECT is(:'fp_ledger'::text, :'src_ledger'::text, 'plain dump: every ledger entry restored');
SELECT is(:'fp_card_counter'::text, :'src_card_counter'::text, 'plain dump: card counters restored');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'plain dump: restored balances equal the ledger');
SELECT is((loyalty.earn('vn', 1, 3, 'after restore')).entry_no,
	(SELECT max(entry_no) + 1 FROM loyalty.ledger WHERE customer_id = 1 AND program_id = loyalty.program_id('vn')),
	'plain dump: the restored database keeps earning, numbering entries on');
SELECT is((loyalty.create_program('new', 'New', 'USD', 1, 1)).program_id, 3,
	'plain dump: the program id sequence continues');
SELECT is(loyalty.card_issue('6042')::text, '6042000000000213',
	'plain dump: card numbers continue after the last one issued');
SELECT throws_ok($$DELETE FROM loyalty.ledger$$, 'LY006', NULL, 'plain dump: the ledger is still immutable');
SELECT * FROM finish();
ROLLBACK;

\c loyalty_dump_custom
\i test/setup.sql
CREATE EXTENSION pgtap;
BEGIN;
SELECT plan(4);
\i test/fixtures/dump_fingerprint.sql
SELECT is(:'fp_member'::text, :'src_member'::text, 'custom dump: members restored');
SELECT is(:'fp_account'::text, :'src_account'::text, 'custom dump: balances restored');
SELECT is(:'fp_ledger'::text, :'src_ledger'::text, 'custom dump: every ledger entry restored');
SELECT is(:'fp_lot'::text, :'src_lot'::text, 'custom dump: lots restored');
SELECT * FROM finish();
ROLLBACK;

\c :home_db
\! dropdb loyalty_dump_src && dropdb loyalty_dump_plain && dropdb loyalty_dump_custom && rm -f /tmp/loyalty_dump_test.dump
