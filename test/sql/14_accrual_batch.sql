\i test/setup.sql
-- Multi-row INSERTs, INSERT ... SELECT and COPY: the orders of one member in
-- one statement that become available together share one lot and one ledger
-- entry, each order keeps its own record, and nothing is lost or counted
-- twice, also across the trigger's internal chunks.
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(36);

SELECT code FROM loyalty.create_program('now', 'Now', 'VND', 10, 100000);
SELECT code FROM loyalty.create_program('held', 'Held', 'VND', 10, 100000, return_days => 14);
SELECT name FROM loyalty.add_earn_rule('now', 'welcome', 'first_purchase_bonus', bonus_points => 5);
SELECT count(loyalty.enroll('now', c)) FROM generate_series(1, 3) c;
SELECT customer_id FROM loyalty.enroll('held', 1);

CREATE TABLE shop_orders (
	id text PRIMARY KEY,
	customer_id bigint,
	total numeric(14, 2),
	currency text NOT NULL DEFAULT 'VND',
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE held_orders (LIKE shop_orders INCLUDING ALL);
SELECT 'tracked' FROM loyalty.track_orders('shop_orders', 'now', 'customer_id', 'id', 'total',
	currency_column => 'currency', ordered_at_column => 'created_at');
SELECT 'tracked' FROM loyalty.track_orders('held_orders', 'held', 'customer_id', 'id', 'total',
	currency_column => 'currency', ordered_at_column => 'created_at');

-- Three orders of member 1 in one statement: one lot, one entry.
INSERT INTO shop_orders (id, customer_id, total) VALUES
	('a1', 1, 250000), ('a2', 1, 100000), ('a3', 1, 990000);
SELECT is((loyalty.balance('now', 1)).available, 20 + 5 + 10 + 90::bigint,
	'three orders in one statement earn 20 + 5 welcome, 10 and 90 points');
SELECT results_eq(
	$$SELECT kind, points, reason, reference, detail FROM loyalty.statement('now', 1)$$,
	$$VALUES ('earn', 125::bigint, 'purchases', NULL::text,
		'[{"rule": "base", "points": 120}, {"rule": "welcome", "points": 5}, {"orders": 3}]'::jsonb)$$,
	'they share one ledger entry whose detail sums each rule over the three orders');
SELECT results_eq(
	$$SELECT order_key, points, first_purchase, lot_no FROM loyalty.order_accrual
	   WHERE customer_id = 1 AND program_id = loyalty.program_id('now') ORDER BY order_key$$,
	$$VALUES ('a1', 25::bigint, true, 1::bigint), ('a2', 10, false, 1), ('a3', 90, false, 1)$$,
	'each order keeps its own points, the first one its welcome bonus, all in lot 1');
SELECT results_eq(
	$$SELECT lot_no, points, remaining, order_key FROM loyalty.lot
	   WHERE customer_id = 1 AND program_id = loyalty.program_id('now')$$,
	$$VALUES (1::bigint, 125::bigint, 125::bigint, NULL::text)$$,
	'the shared lot holds the sum and names no single order');

-- A single order keeps the single-order form of the entry.
INSERT INTO shop_orders (id, customer_id, total) VALUES ('b1', 2, 300000);
SELECT results_eq(
	$$SELECT reason, reference, detail->0->>'rule', (detail->0->>'points')::int FROM loyalty.statement('now', 2)$$,
	$$VALUES ('purchase', 'b1', 'base', 30)$$,
	'one order alone gets an entry naming it, as before');

-- Orders at different times in one statement: one lot per moment they become available.
INSERT INTO held_orders (id, customer_id, total, created_at) VALUES
	('h1', 1, 100000, now()), ('h2', 1, 200000, now()), ('h3', 1, 500000, now() - interval '3 days'),
	('h4', 1, 400000, now() - interval '20 days');
SELECT results_eq(
	$$SELECT pending, points FROM loyalty.lot WHERE program_id = loyalty.program_id('held') ORDER BY lot_no$$,
	$$VALUES (true, 30::bigint), (true, 50), (false, 40)$$,
	'held orders: today''s two share a pending lot, the older one has its own, the one past its window is available');
SELECT results_eq($$SELECT available, pending FROM loyalty.balance('held', 1)$$,
	$$VALUES (40::bigint, 80::bigint)$$, 'and the balance splits accordingly');

-- Refunding one order of a shared pending lot takes exactly its points from that lot.
DELETE FROM held_orders WHERE id = 'h2';
SELECT results_eq($$SELECT available, pending FROM loyalty.balance('held', 1)$$,
	$$VALUES (40::bigint, 60::bigint)$$, 'deleting one order of a shared pending lot takes its 20 pending points');
SELECT results_eq(
	$$SELECT l.remaining FROM loyalty.lot l JOIN loyalty.order_accrual o
	     ON (o.customer_id, o.program_id, o.lot_no) = (l.customer_id, l.program_id, l.lot_no)
	  WHERE o.order_key = 'h1'$$,
	$$VALUES (10::bigint)$$, 'from the lot it shared, which keeps the other order''s 10');
SELECT is((SELECT detail->>'from_pending' FROM loyalty.statement('held', 1) WHERE kind = 'reverse'),
	'20', 'the reversal says it took pending points');

-- The same order twice in one statement earns once.
INSERT INTO shop_orders (id, customer_id, total)
	SELECT 'c1', 3, 100000 UNION ALL SELECT 'c1-copy', 3, 100000;
CREATE TABLE resend_orders (id text, customer_id bigint, total numeric);
SELECT 'tracked' FROM loyalty.track_orders('resend_orders', 'now', 'customer_id', 'id', 'total');
INSERT INTO resend_orders VALUES ('r1', 3, 100000), ('r1', 3, 100000), ('r2', 3, 200000);
SELECT is((SELECT count(*) FROM loyalty.order_accrual o JOIN loyalty.order_source s USING (source_id)
	   WHERE s.table_name = 'public.resend_orders')::int, 2,
	'an order sent twice in one statement is recorded once');
SELECT is((loyalty.balance('now', 3)).available, 5 + 10 + 10 + 10 + 20::bigint,
	'and earns once');
-- Many orders of one member in one statement, two of them sent again at
-- its end: each earns once (the statement keeps the keys it took in a hash).
INSERT INTO resend_orders
SELECT 'k' || g, 3, 100000 FROM generate_series(1, 3000) g
UNION ALL SELECT 'k1', 3, 100000 UNION ALL SELECT 'k3000', 3, 100000;
SELECT is((SELECT count(*) FROM loyalty.order_accrual WHERE order_key LIKE 'k%' AND customer_id = 3)::int,
	3000, '3,000 orders of one member, two of them twice, are recorded once each');
SELECT is((loyalty.balance('now', 3)).available, 55 + 3000 * 10::bigint,
	'and earn 10 points each, once');

-- One statement mixing a member, an unknown customer, a guest and a currency without a rate.
INSERT INTO shop_orders (id, customer_id, total, currency) VALUES
	('m1', 1, 100000, 'VND'), ('m2', 77, 200000, 'VND'), ('m3', NULL, 300000, 'VND'),
	('m4', 1, 10, 'USD');
SELECT is((loyalty.balance('now', 1)).available, 135::bigint, 'the member earns for the order in the program currency');
SELECT results_eq($$SELECT status, available FROM loyalty.balance('now', 77)$$,
	$$VALUES ('active', 25::bigint)$$, 'the unknown customer is enrolled and earns, welcome bonus included');
SELECT is((SELECT problem FROM loyalty.accrual_problem WHERE order_key = 'm4'), 'currency_without_rate',
	'the order in another currency is recorded as a problem');
SELECT is((SELECT count(*) FROM loyalty.order_accrual WHERE order_key = 'm3')::int, 0, 'the guest order earns nothing');

-- Re-sending a whole batch changes nothing.
SAVEPOINT before_resend;
CREATE TEMP TABLE before AS SELECT customer_id, available, pending, last_entry_no FROM loyalty.account;
INSERT INTO resend_orders VALUES ('r1', 3, 100000), ('r2', 3, 200000);
SELECT results_eq($$SELECT customer_id, available, pending, last_entry_no FROM loyalty.account ORDER BY 1, 4$$,
	$$SELECT * FROM before ORDER BY 1, 4$$, 're-sending a batch of known orders leaves every account as it was');
ROLLBACK TO SAVEPOINT before_resend;

-- Known orders among new ones in one statement earn nothing again, whether
-- the member's keys on record are read in one pass (member 2: four orders
-- on record, six in the statement) or, past that pass's budget of 16
-- entries per order, looked up one by one (member 3: 3,002 on record).  A
-- re-insert after DELETE earns again on either way.
INSERT INTO resend_orders VALUES ('s1', 2, 100000), ('s2', 2, 100000), ('s3', 2, 100000),
	('s4', 2, 100000);
DELETE FROM resend_orders WHERE id = 's3';
DELETE FROM resend_orders WHERE id = 'k5';
CREATE TEMP TABLE mixed_before AS SELECT customer_id, available, order_count FROM loyalty.account
 WHERE program_id = loyalty.program_id('now') AND customer_id IN (2, 3);
INSERT INTO resend_orders VALUES ('s2', 2, 100000), ('s5', 2, 200000), ('s4', 2, 100000),
	('s3', 2, 400000), ('s6', 2, 300000), ('s1', 2, 100000),
	('k17', 3, 100000), ('k2999', 3, 100000), ('x1', 3, 200000), ('r1', 3, 100000),
	('k5', 3, 400000), ('x2', 3, 300000);
SELECT results_eq(
	$$SELECT a.customer_id, a.available - b.available, a.order_count - b.order_count
		FROM loyalty.account a JOIN mixed_before b USING (customer_id)
	   WHERE a.program_id = loyalty.program_id('now') ORDER BY 1$$,
	$$VALUES (2::bigint, 90::bigint, 3::bigint), (3, 90, 3)$$,
	'a statement of known and new orders earns for the new ones and the re-inserted one only');
SELECT results_eq(
	$$SELECT customer_id, order_key, state, points FROM loyalty.order_accrual
	   WHERE order_key IN ('s1', 's2', 's3', 's4', 's5', 's6', 'k5', 'k17', 'x1', 'x2')
	   ORDER BY 1, 2$$,
	$$VALUES (2::bigint, 's1', 'active', 10::bigint), (2, 's2', 'active', 10), (2, 's3', 'active', 40),
		(2, 's4', 'active', 10), (2, 's5', 'active', 20), (2, 's6', 'active', 30),
		(3, 'k17', 'active', 10), (3, 'k5', 'active', 40), (3, 'x1', 'active', 20),
		(3, 'x2', 'active', 30)$$,
	'each order is on record once, the re-inserted ones active again at their new amounts');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'and every balance still equals its ledger');

-- A bulk INSERT ... SELECT larger than the trigger's chunk of 131,072 rows.
INSERT INTO shop_orders (id, customer_id, total)
	SELECT 'bulk-' || g, 1001 + g % 2, 100000 FROM generate_series(1, 140000) g;
SELECT is((SELECT count(*) FROM loyalty.order_accrual WHERE order_key LIKE 'bulk-%')::int, 140000,
	'a 140,000-row INSERT ... SELECT records every order');
SELECT results_eq(
	$$SELECT customer_id, available FROM loyalty.account WHERE customer_id IN (1001, 1002) ORDER BY 1$$,
	$$VALUES (1001::bigint, 700005::bigint), (1002, 700005)$$,
	'each of the two new members earns 10 points per order and one welcome bonus');
SELECT is((SELECT count(*) FROM loyalty.order_accrual
	   WHERE order_key LIKE 'bulk-%' AND first_purchase)::int, 2, 'one first purchase per member, across chunks');
SELECT cmp_ok((SELECT count(*) FROM loyalty.ledger WHERE customer_id IN (1001, 1002))::int, '<', 10,
	'the bulk statement writes a few entries per member, not one per order');
SELECT is((SELECT sum(points) FROM loyalty.ledger WHERE customer_id IN (1001, 1002))::bigint, 1400010::bigint,
	'and the entries add up to every order''s points');

SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'every balance equals its ledger and lots');
-- The copies of one order key in a statement are applied in their order,
-- as one statement per row would apply them, also when the first copy
-- cannot take the direct path (a cancelled order, or one whose points pass
-- any balance): the later copy waits for it on the general path.  Rows of
-- one member go to seq_many in one statement and to seq_one one by one;
-- both programs earn alike.
SELECT code FROM loyalty.create_program('seq_many', 'Seq many', 'VND', 10, 100000);
SELECT code FROM loyalty.create_program('seq_one', 'Seq one', 'VND', 10, 100000);
CREATE TABLE seq_many (n serial PRIMARY KEY, id text, customer_id bigint, total numeric, status text);
CREATE TABLE seq_one (LIKE seq_many INCLUDING ALL);
SELECT 'tracked' FROM loyalty.track_orders('seq_many', 'seq_many', 'customer_id', 'id', 'total',
	status_column => 'status');
SELECT 'tracked' FROM loyalty.track_orders('seq_one', 'seq_one', 'customer_id', 'id', 'total',
	status_column => 'status');
CREATE TEMP TABLE seq_rows (n int, id text, total numeric, status text);
INSERT INTO seq_rows VALUES (1, 'q1', 100000, 'cancelled'), (2, 'q1', 300000, 'paid'),
	(3, 'q2', 1e30, 'paid'), (4, 'q2', 200000, 'paid'), (5, 'q3', 500000, 'paid'),
	(6, 'q4', 400000, 'paid'), (7, 'q4', 400000, 'refunded'), (8, 'q5', 600000, 'paid');
INSERT INTO seq_many (id, customer_id, total, status) SELECT id, 7, total, status FROM seq_rows ORDER BY n;
DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT * FROM seq_rows ORDER BY n LOOP
		INSERT INTO seq_one (id, customer_id, total, status) VALUES (r.id, 7, r.total, r.status);
	END LOOP;
END
$$;
SELECT results_eq(
	$$SELECT available, pending, lifetime_earned, order_count FROM loyalty.account
	   WHERE program_id = loyalty.program_id('seq_many') AND customer_id = 7$$,
	$$SELECT available, pending, lifetime_earned, order_count FROM loyalty.account
	   WHERE program_id = loyalty.program_id('seq_one') AND customer_id = 7$$,
	'a key sent again after its row left the direct path: the balances of one statement per row');
SELECT results_eq(
	$$SELECT order_key, state, net_amount, points FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('seq_many') AND customer_id = 7 ORDER BY order_key$$,
	$$SELECT order_key, state, net_amount, points FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('seq_one') AND customer_id = 7 ORDER BY order_key$$,
	'and the same order records');
SELECT results_eq(
	$$SELECT order_key, problem FROM loyalty.accrual_problem
	   WHERE program_id = loyalty.program_id('seq_many') AND customer_id = 7 ORDER BY order_key$$,
	$$SELECT order_key, problem FROM loyalty.accrual_problem
	   WHERE program_id = loyalty.program_id('seq_one') AND customer_id = 7 ORDER BY order_key$$,
	'and the same problems recorded');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the re-sent keys');

-- Across keys too: once a member's row goes the general path and may earn
-- there (a refunded amount above 0, a known order), the member's later rows
-- follow it, so that a rule that depends on the orders before (here the
-- first-purchase bonus) goes to the order one statement per row gives it.
SELECT (loyalty.add_earn_rule(p, 'welcome', 'first_purchase_bonus', bonus_points => 100)).name
  FROM unnest(ARRAY['seq_many', 'seq_one']) p;
ALTER TABLE seq_many ADD COLUMN refunded numeric;
ALTER TABLE seq_one ADD COLUMN refunded numeric;
SELECT 'untracked' FROM unnest(ARRAY['seq_many', 'seq_one']::regclass[]) t, loyalty.untrack_orders(t);
SELECT 'tracked' FROM loyalty.track_orders('seq_many', 'seq_many', 'customer_id', 'id', 'total',
	status_column => 'status', refunded_column => 'refunded');
SELECT 'tracked' FROM loyalty.track_orders('seq_one', 'seq_one', 'customer_id', 'id', 'total',
	status_column => 'status', refunded_column => 'refunded');
CREATE TEMP TABLE seq_rows2 (n int, customer_id bigint, id text, total numeric, refunded numeric);
INSERT INTO seq_rows2 VALUES (1, 8, 'f1', 1000000, 100000), (2, 8, 'f2', 1000000, 0),
	(3, 8, 'f3', 500000, 0), (4, 9, 'g1', 2000000, 0), (5, 9, 'g2', 3000000, 0);
-- Member 9 first earns g1, then sends it again with a refund beside a new order.
INSERT INTO seq_many (id, customer_id, total, status) VALUES ('g1', 9, 2000000, 'paid');
INSERT INTO seq_one (id, customer_id, total, status) VALUES ('g1', 9, 2000000, 'paid');
UPDATE seq_rows2 SET refunded = 500000 WHERE id = 'g1';
INSERT INTO seq_many (id, customer_id, total, status, refunded)
SELECT id, customer_id, total, 'paid', refunded FROM seq_rows2 ORDER BY n;
DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT * FROM seq_rows2 ORDER BY n LOOP
		INSERT INTO seq_one (id, customer_id, total, status, refunded)
		VALUES (r.id, r.customer_id, r.total, 'paid', r.refunded);
	END LOOP;
END
$$;
SELECT results_eq(
	$$SELECT customer_id, order_key, state, net_amount, points, first_purchase FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('seq_many') AND customer_id IN (8, 9) ORDER BY 1, 2$$,
	$$SELECT customer_id, order_key, state, net_amount, points, first_purchase FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('seq_one') AND customer_id IN (8, 9) ORDER BY 1, 2$$,
	'a row the general path credits keeps its place before the member''s later rows');
SELECT results_eq(
	$$SELECT order_key, points, first_purchase FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('seq_many') AND customer_id = 8 ORDER BY order_key$$,
	$$VALUES ('f1', 190::bigint, true), ('f2', 100, false), ('f3', 50, false)$$,
	'the first purchase is the first row, partly refunded: 90 + 100 bonus');
SELECT results_eq(
	$$SELECT customer_id, available, lifetime_earned, order_count FROM loyalty.account
	   WHERE program_id = loyalty.program_id('seq_many') AND customer_id IN (8, 9) ORDER BY 1$$,
	$$SELECT customer_id, available, lifetime_earned, order_count FROM loyalty.account
	   WHERE program_id = loyalty.program_id('seq_one') AND customer_id IN (8, 9) ORDER BY 1$$,
	'and the balances of one statement per row');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'verify: no problem after the mixed statement');

SELECT * FROM finish();
ROLLBACK;
