\i test/setup.sql
-- Automatic accrual: plain INSERTs, UPDATEs and DELETEs on the application's
-- own orders table earn, claw back and adjust points.
BEGIN;
CREATE EXTENSION loyalty;
SELECT plan(144);

SELECT code FROM loyalty.create_program('instant', 'Instant', 'VND', 10, 100000);
SELECT code FROM loyalty.create_program('held', 'Held', 'VND', 10, 100000, return_days => 14);
SELECT customer_id FROM loyalty.enroll('instant', 1);

-- An application-style orders table; no primary key, so a re-sent order can arrive.
CREATE TABLE public.orders (
	id bigint NOT NULL,
	customer_id bigint,
	total numeric(14, 2),
	currency text NOT NULL DEFAULT 'VND',
	channel text NOT NULL DEFAULT 'online',
	category text,
	status text NOT NULL DEFAULT 'paid',
	refunded numeric(14, 2) NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now()
);
SELECT 'tracked' FROM loyalty.track_orders('public.orders', 'instant', 'customer_id', 'id', 'total',
	currency_column => 'currency', channel_column => 'channel', category_column => 'category',
	status_column => 'status', refunded_column => 'refunded', ordered_at_column => 'created_at');

-- INSERT earns, in the same transaction.
INSERT INTO orders (id, customer_id, total) VALUES (101, 1, 250000);
SELECT is((loyalty.balance('instant', 1)).available, 20::bigint,
	'a plain INSERT of 250,000 VND earns 20 points (10 per complete 100,000)');
SELECT results_eq(
	$$SELECT kind, points, reason, reference, actor, detail->0->>'rule'
		FROM loyalty.statement('instant', 1)$$,
	$$VALUES ('earn', 20::bigint, 'purchase', '101', 'public.orders', 'base')$$,
	'the ledger entry names the order, the table and the rule');
SELECT results_eq(
	$$SELECT state, points, earned_points, first_purchase FROM loyalty.order_accrual
	   WHERE order_key = '101'$$,
	$$VALUES ('active', 20::bigint, 20::bigint, true)$$,
	'the order is on record with its points');

-- A rolled-back order leaves no points.
SAVEPOINT s;
INSERT INTO orders (id, customer_id, total) VALUES (102, 1, 900000);
ROLLBACK TO SAVEPOINT s;
SELECT is((loyalty.balance('instant', 1)).available, 20::bigint, 'a rolled-back order earns nothing');
SELECT is((SELECT count(*) FROM loyalty.order_accrual WHERE order_key = '102')::int, 0,
	'and leaves no order record');

-- An unknown customer is enrolled by their first order.
INSERT INTO orders (id, customer_id, total) VALUES (103, 2, 100000);
SELECT results_eq($$SELECT status, available FROM loyalty.balance('instant', 2)$$,
	$$VALUES ('active', 10::bigint)$$, 'an order from an unknown customer enrolls them and earns');

-- Re-sending the same order earns nothing.
INSERT INTO orders (id, customer_id, total) VALUES (101, 1, 250000);
SELECT is((loyalty.balance('instant', 1)).available, 20::bigint, 'a re-sent order earns nothing');
SELECT is((SELECT count(*) FROM loyalty.ledger WHERE customer_id = 1)::int, 1,
	'and writes no ledger entry');

-- Guest orders (no customer) are not loyalty orders and never fail.
SELECT lives_ok($$INSERT INTO orders (id, customer_id, total) VALUES (104, NULL, 500000)$$,
	'a guest order is accepted');
SELECT is((SELECT count(*) FROM loyalty.order_accrual WHERE order_key = '104')::int, 0,
	'and earns nothing for anyone');

-- Refund by status reverses the order's points, once.
INSERT INTO orders (id, customer_id, total) VALUES (105, 1, 300000);
SELECT is((loyalty.balance('instant', 1)).available, 50::bigint, 'order 105 earns 30');
UPDATE orders SET status = 'refunded' WHERE id = 105;
SELECT is((loyalty.balance('instant', 1)).available, 20::bigint, 'refunding order 105 takes its 30 points back');
SELECT results_eq(
	$$SELECT kind, points, reason FROM loyalty.statement('instant', 1) ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES ('reverse', -30::bigint, 'order refunded')$$,
	'the reversal is a ledger entry with the reason');
UPDATE orders SET status = 'refunded', category = 'coffee' WHERE id = 105;
SELECT is((loyalty.balance('instant', 1)).available, 20::bigint, 'refunding twice never claws back twice');
UPDATE orders SET status = 'cancelled' WHERE id = 105;
SELECT is((SELECT count(*) FROM loyalty.ledger WHERE customer_id = 1 AND kind = 'reverse')::int, 1,
	'a second refund status writes no second reversal');

-- Partial refund through the refunded column: proportional clawback.
INSERT INTO orders (id, customer_id, total) VALUES (106, 1, 500000);
SELECT is((loyalty.balance('instant', 1)).available, 70::bigint, 'order 106 earns 50');
UPDATE orders SET refunded = 250000 WHERE id = 106;
SELECT is((loyalty.balance('instant', 1)).available, 45::bigint,
	'refunding half of order 106 takes back half of its points (25)');
UPDATE orders SET refunded = 250000 WHERE id = 106;
SELECT is((loyalty.balance('instant', 1)).available, 45::bigint, 'the same partial refund again changes nothing');
UPDATE orders SET refunded = 400000 WHERE id = 106;
SELECT is((SELECT points FROM loyalty.order_accrual WHERE order_key = '106'), 10::bigint,
	'refunding 400,000 of 500,000 leaves floor(50 x 100,000 / 500,000) = 10 points');

-- Amount changes: lower claws back proportionally, higher earns the difference.
INSERT INTO orders (id, customer_id, total) VALUES (107, 1, 300000);
UPDATE orders SET total = 100000 WHERE id = 107;
SELECT is((SELECT points FROM loyalty.order_accrual WHERE order_key = '107'), 10::bigint,
	'lowering 300,000 to 100,000 keeps 10 of 30 points');
UPDATE orders SET total = 400000 WHERE id = 107;
SELECT is((SELECT points FROM loyalty.order_accrual WHERE order_key = '107'), 40::bigint,
	'raising it to 400,000 earns the difference up to 40 points');
SELECT results_eq(
	$$SELECT kind, points, reason FROM loyalty.statement('instant', 1) ORDER BY entry_no DESC LIMIT 1$$,
	$$VALUES ('earn', 30::bigint, 'order amount changed')$$,
	'the increase is an earn entry');

-- DELETE reverses; inserting the order again earns again (net: once).
SELECT is((loyalty.balance('instant', 1)).available, 70::bigint, 'balance before the delete');
DELETE FROM orders WHERE id = 107;
SELECT is((loyalty.balance('instant', 1)).available, 30::bigint, 'deleting order 107 takes its 40 points back');
SELECT is((SELECT state FROM loyalty.order_accrual WHERE order_key = '107'), 'deleted',
	'the order is marked deleted');
INSERT INTO orders (id, customer_id, total) VALUES (107, 1, 400000);
SELECT is((loyalty.balance('instant', 1)).available, 70::bigint,
	'inserting the deleted order again earns it again');
SELECT is((SELECT first_purchase FROM loyalty.order_accrual WHERE order_key = '107'), false,
	'a re-inserted order is not a first purchase');

-- Changing the customer of an order moves its points.
INSERT INTO orders (id, customer_id, total) VALUES (108, 1, 200000);
UPDATE orders SET customer_id = 2 WHERE id = 108;
SELECT results_eq(
	$$SELECT (loyalty.balance('instant', 1)).available, (loyalty.balance('instant', 2)).available$$,
	$$VALUES (70::bigint, 30::bigint)$$,
	'moving order 108 to customer 2 moves its 20 points');

-- Bulk INSERT ... SELECT earns per order.
INSERT INTO orders (id, customer_id, total)
SELECT 1000 + g, 10 + g % 50, 100000 * (1 + g % 3) FROM generate_series(1, 3000) g;
SELECT is((SELECT sum(available) FROM loyalty.member_balances WHERE program = 'instant' AND customer_id >= 10),
	(SELECT sum(10 * (1 + g % 3)) FROM generate_series(1, 3000) g)::numeric,
	'INSERT ... SELECT of 3,000 orders credits every one of them');
SELECT is((SELECT count(*) FROM loyalty.member WHERE customer_id BETWEEN 10 AND 59)::int, 50,
	'and enrolls the 50 new customers');

-- COPY earns too.
COPY orders (id, customer_id, total) FROM STDIN;
9001	1	100000
9002	1	200000
\.
SELECT is((loyalty.balance('instant', 1)).available, 100::bigint, 'COPY into the orders table earns');

-- Suspended members: the sale goes through, the problem is recorded.
SELECT status FROM loyalty.set_member_status('instant', 2, 'suspended');
SELECT lives_ok($$INSERT INTO orders (id, customer_id, total) VALUES (110, 2, 500000)$$,
	'an order from a suspended member is accepted by the shop');
SELECT is((loyalty.balance('instant', 2)).available, 30::bigint, 'but earns nothing');
SELECT results_eq($$SELECT problem, occurrences FROM loyalty.accrual_problem WHERE order_key = '110'$$,
	$$VALUES ('member_not_active', 1)$$, 'and the problem is recorded');
UPDATE orders SET status = 'refunded' WHERE id = 108;
SELECT is((loyalty.balance('instant', 2)).available, 10::bigint,
	'a refund still claws back from a suspended member');
SELECT status FROM loyalty.set_member_status('instant', 2, 'active');

-- Currencies: without a rate the order is recorded as a problem; with one it converts.
INSERT INTO orders (id, customer_id, total, currency) VALUES (111, 1, 20, 'USD');
SELECT results_eq($$SELECT problem FROM loyalty.accrual_problem WHERE order_key = '111'$$,
	$$VALUES ('currency_without_rate')$$, 'an order in a currency without a rate is a recorded problem');
SELECT is((loyalty.balance('instant', 1)).available, 100::bigint, 'and earns nothing');
SELECT from_currency FROM loyalty.set_exchange_rate('USD', 'VND', 25000, now() - interval '1 day');
INSERT INTO orders (id, customer_id, total, currency) VALUES (112, 1, 20, 'usd');
SELECT is((SELECT amount FROM loyalty.order_accrual WHERE order_key = '112'), 500000::numeric,
	'20 USD at 25,000 VND is recorded as 500,000 VND');
SELECT is((loyalty.balance('instant', 1)).available, 150::bigint, 'and earns 50 points');

-- An order in another currency is priced in its own currency at the rate
-- it was first converted at: a rate set later for its time (backdated)
-- changes none of its points.  A refund keeps its share of them, a raise
-- is converted at the first rate; a change of the order's currency is
-- converted at the new currency's rate of the order time, and priced at
-- that from then on.  The rates here are of 2001, before every other rate
-- of this file, so they price no other order.
SELECT code FROM loyalty.create_program('rated', 'Rated', 'VND', 10, 100000);
CREATE TABLE rated_orders (id int, customer_id bigint, total numeric, currency text,
	refunded numeric DEFAULT 0, status text DEFAULT 'paid', created_at timestamptz);
SELECT 'tracked' FROM loyalty.track_orders('public.rated_orders', 'rated', 'customer_id', 'id',
	'total', currency_column => 'currency', refunded_column => 'refunded',
	status_column => 'status', ordered_at_column => 'created_at');
SELECT 'rate' FROM loyalty.set_exchange_rate('USD', 'VND', 25000, '2001-01-01');
SELECT 'rate' FROM loyalty.set_exchange_rate('EUR', 'VND', 27000, '2001-01-01');
INSERT INTO rated_orders (id, customer_id, total, currency, created_at) VALUES
	(1, 951, 100, 'USD', '2001-03-10'), (2, 952, 100, 'USD', '2001-06-10'),
	(3, 953, 100, 'USD', '2001-06-10'), (4, 954, 100, 'USD', '2001-06-10'),
	(5, 955, 100, ' usd', '2001-06-10'), (6, 956, 100, 'VND', '2001-06-10');
SELECT results_eq(
	$$SELECT customer_id, points, amount, currency, rate FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('rated') ORDER BY customer_id$$,
	$$VALUES (951::bigint, 250::bigint, 2500000::numeric, 'USD'::text, 25000::numeric),
			 (952, 250, 2500000, 'USD', 25000), (953, 250, 2500000, 'USD', 25000),
			 (954, 250, 2500000, 'USD', 25000), (955, 250, 2500000, 'USD', 25000),
			 (956, 0, 100, 'VND', 1)$$,
	'100 USD at 25,000 VND earns 250 and the order keeps its currency and rate; VND has rate 1');
-- Rates set afterwards for the orders' times: 50,000 for order 1, 12,500 for the others.
SELECT 'rate' FROM loyalty.set_exchange_rate('USD', 'VND', 50000, '2001-03-09');
SELECT 'rate' FROM loyalty.set_exchange_rate('USD', 'VND', 12500, '2001-06-09');
UPDATE rated_orders SET refunded = 40 WHERE id IN (1, 2);
SELECT results_eq(
	$$SELECT customer_id, available FROM loyalty.account
	   WHERE program_id = loyalty.program_id('rated') AND customer_id IN (951, 952)
	   ORDER BY customer_id$$,
	$$VALUES (951::bigint, 150::bigint), (952, 150)$$,
	'a refund of 40 of 100 USD leaves 150 of 250 after a higher rate (not +50) or a lower one (not 75) was set for the order time');
SELECT results_eq(
	$$SELECT kind, points, reason, detail FROM loyalty.statement('rated', 951) ORDER BY entry_no$$,
	$$VALUES ('earn'::text, 250::bigint, 'purchase'::text, '[{"rule": "base", "points": 250}]'::jsonb),
			 ('reverse', -100, 'order amount changed',
			  '{"clawback": 100, "from_pending": 0, "from_available": 100}')$$,
	'the refund is a clawback of 100, not an earning');
SELECT results_eq(
	$$SELECT net_amount, rate FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('rated') AND customer_id IN (951, 952)
	   ORDER BY customer_id$$,
	$$VALUES (1500000::numeric, 25000::numeric), (1500000, 25000)$$,
	'both keep 60 USD at the first rate: 1,500,000 VND');
UPDATE rated_orders SET refunded = 100 WHERE id = 3;
SELECT results_eq(
	$$SELECT b.available, s.points FROM loyalty.balance('rated', 953) b,
		loyalty.statement('rated', 953) s WHERE s.kind = 'reverse'$$,
	$$VALUES (0::bigint, -250::bigint)$$,
	'a full refund takes all 250');
UPDATE rated_orders SET total = 120 WHERE id = 4;
SELECT results_eq(
	$$SELECT b.available, o.net_amount FROM loyalty.balance('rated', 954) b,
		loyalty.order_accrual o WHERE o.customer_id = 954$$,
	$$VALUES (300::bigint, 3000000::numeric)$$,
	'a raise to 120 USD is converted at the first rate: 3,000,000 VND earns 50 more (not a clawback at 12,500)');
UPDATE rated_orders SET total = 100 WHERE id = 4;
SELECT is((loyalty.balance('rated', 954)).available, 250::bigint,
	'lowered back to 100 USD, the order holds its 250 again');
-- The shop changes the order's currency: converted at the new currency's
-- rate of the order time (27,000), against what the order first earned.
UPDATE rated_orders SET currency = 'EUR' WHERE id = 5;
SELECT results_eq(
	$$SELECT b.available, o.currency, o.rate, s.reason FROM loyalty.balance('rated', 955) b,
		loyalty.order_accrual o, loyalty.statement('rated', 955) s
	   WHERE o.customer_id = 955 AND s.entry_no = 2$$,
	$$VALUES (270::bigint, 'EUR'::text, 27000::numeric, 'order currency changed'::text)$$,
	'100 EUR (2,700,000 VND) earns 20 more, and the order is priced in EUR from then on');
UPDATE rated_orders SET refunded = 40 WHERE id = 5;
SELECT is((loyalty.balance('rated', 955)).available, 162::bigint,
	'a refund of 40 EUR keeps floor(250 x 1,620,000 / 2,500,000) = 162');
UPDATE rated_orders SET currency = 'GBP' WHERE id = 5;
SELECT results_eq(
	$$SELECT b.available, o.currency, p.problem FROM loyalty.balance('rated', 955) b,
		loyalty.order_accrual o, loyalty.accrual_problem p
	   WHERE o.customer_id = 955 AND p.customer_id = 955$$,
	$$VALUES (162::bigint, 'EUR'::text, 'currency_without_rate'::text)$$,
	'a currency without a rate is a recorded problem: the order keeps its points and currency');
-- An order recorded before 0.3.0 has no rate: it is converted at each
-- change, as then, and keeps none.
INSERT INTO rated_orders (id, customer_id, total, currency, created_at)
	VALUES (7, 957, 100, 'USD', '2001-06-10');
UPDATE loyalty.order_accrual SET currency = NULL, rate = NULL WHERE customer_id = 957;
UPDATE rated_orders SET refunded = 40 WHERE id = 7;
SELECT results_eq(
	$$SELECT o.points, o.net_amount, o.currency, o.rate FROM loyalty.order_accrual o
	   WHERE o.customer_id = 957$$,
	$$VALUES (72::bigint, 750000::numeric, NULL::text, NULL::numeric)$$,
	'an order without a rate: 100 USD at 12,500 earned 120, a refund of 40 leaves 72 and no rate');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'every rated balance still equals its ledger and lots');

-- Invalid amounts are recorded, never fail the sale.
SELECT lives_ok($$INSERT INTO orders (id, customer_id, total) VALUES (113, 1, -5)$$,
	'a negative amount does not fail the INSERT');
SELECT lives_ok($$INSERT INTO orders (id, customer_id, total) VALUES (114, 1, NULL)$$,
	'a missing amount does not fail the INSERT');
SELECT set_eq($$SELECT order_key FROM loyalty.accrual_problem WHERE problem = 'invalid_amount'$$,
	ARRAY['113', '114'], 'both are recorded as invalid amounts');

-- Pending points: held during the return window.
CREATE TABLE public."Held Orders" ("Order No" text, "Customer" integer, "Amount" integer,
	"Placed" timestamp);
SELECT 'tracked' FROM loyalty.track_orders('public."Held Orders"', 'held', 'Customer', 'Order No', 'Amount',
	ordered_at_column => 'Placed');
INSERT INTO "Held Orders" VALUES ('A-1', 7, 250000, now() AT TIME ZONE 'UTC');
SELECT results_eq($$SELECT available, pending FROM loyalty.balance('held', 7)$$,
	$$VALUES (0::bigint, 20::bigint)$$, 'points are pending during the 14-day return window');
SELECT throws_ok($$SELECT loyalty.redeem('held', 7, 1)$$, 'LY004', NULL, 'pending points cannot be redeemed');
INSERT INTO "Held Orders" VALUES ('A-2', 7, 300000, (now() - interval '20 days') AT TIME ZONE 'UTC');
SELECT results_eq($$SELECT available, pending FROM loyalty.balance('held', 7)$$,
	$$VALUES (30::bigint, 20::bigint)$$, 'an order placed before the window is available at once');
UPDATE "Held Orders" SET "Amount" = 0 WHERE "Order No" = 'A-1';
SELECT results_eq($$SELECT available, pending FROM loyalty.balance('held', 7)$$,
	$$VALUES (30::bigint, 0::bigint)$$, 'refunding a pending order takes its pending points');
SELECT is((SELECT detail->>'from_pending' FROM loyalty.ledger WHERE customer_id = 7 AND kind = 'reverse'),
	'20', 'the reversal says it took pending points');
INSERT INTO "Held Orders" VALUES ('A-3', 7, 100000, now() AT TIME ZONE 'UTC');
SELECT is(loyalty.release_pending(now() + interval '15 days'), 10::numeric,
	'the maintenance call releases the window''s points when it has passed');

-- Without the maintenance call, balances are still right once a window passes.
INSERT INTO "Held Orders" VALUES ('A-4', 7, 500000, now() AT TIME ZONE 'UTC');
UPDATE loyalty.lot SET available_at = now() - interval '1 second'	-- the window has passed
 WHERE customer_id = 7 AND order_key = 'A-4';
SELECT results_eq($$SELECT available, pending FROM loyalty.balance('held', 7)$$,
	$$VALUES (90::bigint, 0::bigint)$$, 'balance() counts points whose window has passed as available');
SELECT is((loyalty.redeem('held', 7, 85)).available_after, 5::bigint,
	'and they can be redeemed before any release job has run');
SELECT results_eq(
	$$SELECT kind, points, pending_points FROM loyalty.statement('held', 7) ORDER BY entry_no DESC LIMIT 2$$,
	$$VALUES ('redeem', -85::bigint, 0::bigint), ('release', 50::bigint, -50::bigint)$$,
	'the redemption first releases them in their own ledger entry');

-- Negative balance policies when refunded points were already spent.
SELECT entry_no FROM loyalty.redeem('instant', 1, 150, 'spend everything');
UPDATE orders SET status = 'refunded' WHERE id = 112;
SELECT results_eq($$SELECT available FROM loyalty.balance('instant', 1)$$, $$VALUES (-50::bigint)$$,
	'debt policy: refunding spent points leaves a debt');
INSERT INTO orders (id, customer_id, total) VALUES (115, 1, 700000);
SELECT results_eq($$SELECT available FROM loyalty.balance('instant', 1)$$, $$VALUES (20::bigint)$$,
	'a later order repays the debt first');
SELECT is((SELECT remaining FROM loyalty.lot WHERE customer_id = 1 AND order_key = '115'), 20::bigint,
	'only the points above the debt are spendable in the new lot');

SELECT code FROM loyalty.alter_program('instant', negative_balance => 'forgive');
SELECT entry_no FROM loyalty.redeem('instant', 1, 20);
UPDATE orders SET status = 'refunded' WHERE id = 115;
SELECT results_eq($$SELECT available FROM loyalty.balance('instant', 1)$$, $$VALUES (0::bigint)$$,
	'forgive policy: the balance stops at zero');
SELECT is((SELECT (detail->>'forgiven')::int FROM loyalty.ledger
			WHERE customer_id = 1 ORDER BY entry_no DESC LIMIT 1), 70,
	'and the ledger records the 70 points forgiven');

SELECT code FROM loyalty.alter_program('instant', negative_balance => 'block');
INSERT INTO orders (id, customer_id, total) VALUES (116, 1, 100000);
SELECT entry_no FROM loyalty.redeem('instant', 1, 10);
SELECT throws_ok($$UPDATE orders SET status = 'refunded' WHERE id = 116$$, 'LY009',
	'refund of order "116" would take member 1 below zero points',
	'block policy: the refund''s clawback is refused with a clear error');
SELECT is((SELECT status FROM orders WHERE id = 116), 'paid', 'and the refund did not happen');

-- An unknown customer in a program that ignores them.
SELECT code FROM loyalty.alter_program('held', unknown_customer => 'ignore');
INSERT INTO "Held Orders" VALUES ('B-1', 99, 100000, now() AT TIME ZONE 'UTC');
SELECT is((SELECT count(*) FROM loyalty.member WHERE customer_id = 99)::int, 0,
	'ignore policy: the unknown customer is not enrolled');
SELECT results_eq($$SELECT problem FROM loyalty.accrual_problem WHERE order_key = 'B-1'$$,
	$$VALUES ('unknown_customer')$$, 'and the ignored order is recorded');

-- Odd and hostile order data never fails the shop's write and never
-- invents points.  Program odd: 1 point per USD, a 500-point first-purchase
-- bonus, a 50-point bonus on every order, gold at 1,000 points earning x3.
SELECT code FROM loyalty.create_program('odd', 'Odd', 'USD', 1, 1);
SELECT name FROM loyalty.add_earn_rule('odd', 'welcome', 'first_purchase_bonus', bonus_points => 500);
SELECT name FROM loyalty.add_earn_rule('odd', 'every order', 'campaign_bonus', bonus_points => 50);
SELECT code FROM loyalty.set_tier('odd', 'gold', 'Gold', 1000);
SELECT name FROM loyalty.add_earn_rule('odd', 'gold triple', 'tier_multiplier', tier => 'gold', multiplier => 3);
SELECT count(loyalty.enroll('odd', c)) FROM generate_series(501, 505) c;
CREATE TABLE public.odd_orders (id bigint PRIMARY KEY, customer_id bigint, total numeric,
	status text NOT NULL DEFAULT 'paid', refunded numeric NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now());
SELECT 'tracked' FROM loyalty.track_orders('public.odd_orders', 'odd', 'customer_id', 'id', 'total',
	status_column => 'status', refunded_column => 'refunded', ordered_at_column => 'created_at',
	refund_statuses => ARRAY['refunded', 'cancelled']);
-- A negative refunded amount would raise the net amount above the price.
INSERT INTO odd_orders (id, customer_id, total, refunded) VALUES (1, 501, 100, -900);
SELECT results_eq(
	$$SELECT (loyalty.balance('odd', 501)).available, p.problem, p.detail
		FROM loyalty.accrual_problem p WHERE p.order_key = '1'$$,
	$$VALUES (0::bigint, 'invalid_amount'::text, 'the refunded amount is negative or not a finite number'::text)$$,
	'a negative refunded amount earns nothing and is recorded as a problem');
INSERT INTO odd_orders (id, customer_id, total) VALUES (2, 501, 100);
UPDATE odd_orders SET refunded = -9900 WHERE id = 2;
UPDATE odd_orders SET refunded = 'NaN' WHERE id = 2;
SELECT results_eq(
	$$SELECT o.points, (loyalty.balance('odd', 501)).available, p.occurrences
		FROM loyalty.order_accrual o, loyalty.accrual_problem p
	   WHERE o.order_key = '2' AND o.program_id = loyalty.program_id('odd') AND p.order_key = '2'$$,
	$$VALUES (650::bigint, 650::bigint, 2)$$,
	'a negative or NaN refunded amount on a known order changes nothing and is recorded');
-- An order that is cancelled when it arrives, or costs nothing, earns no bonus.
INSERT INTO odd_orders (id, customer_id, total, status) VALUES (3, 502, 100, 'cancelled');
INSERT INTO odd_orders (id, customer_id, total) VALUES (4, 502, 0);
INSERT INTO odd_orders (id, customer_id, total) VALUES (5, 502, 0), (6, 502, 0);
SELECT results_eq(
	$$SELECT (loyalty.balance('odd', 502)).available, a.order_count FROM loyalty.account a
	   WHERE a.customer_id = 502 AND a.program_id = loyalty.program_id('odd')$$,
	$$VALUES (0::bigint, 0::bigint)$$,
	'a cancelled order and zero-amount orders (one by one or in one statement) earn no bonus');
INSERT INTO odd_orders (id, customer_id, total) VALUES (7, 502, 100);
SELECT is((loyalty.balance('odd', 502)).available, 650::bigint,
	'the first order that pays still gets the first-purchase bonus: 100 + 500 + 50');
-- Raising an order's amount prices the raise alone, at the member's tier now.
INSERT INTO odd_orders (id, customer_id, total) VALUES (8, 503, 1000);
SELECT results_eq(
	$$SELECT a.tier, (loyalty.balance('odd', 503)).available FROM loyalty.account a
	   WHERE a.customer_id = 503 AND a.program_id = loyalty.program_id('odd')$$,
	$$VALUES ('gold'::text, 1550::bigint)$$, 'the first order makes the member gold');
UPDATE odd_orders SET total = 1001 WHERE id = 8;
SELECT results_eq(
	$$SELECT e.points, e.detail FROM loyalty.ledger e
	   WHERE e.customer_id = 503 AND e.program_id = loyalty.program_id('odd') ORDER BY e.entry_no DESC LIMIT 1$$,
	$$VALUES (3::bigint, '[{"rule": "base", "points": 1}, {"rule": "gold triple", "points": 2}]'::jsonb)$$,
	'a 1 USD raise at gold earns 3 points, not the whole order again, and says which rules gave them');
UPDATE odd_orders SET total = 500 WHERE id = 8;
UPDATE odd_orders SET total = 1001 WHERE id = 8;
SELECT results_eq(
	$$SELECT e.points, e.detail FROM loyalty.ledger e
	   WHERE e.customer_id = 503 AND e.program_id = loyalty.program_id('odd') ORDER BY e.entry_no DESC LIMIT 1$$,
	$$VALUES (778::bigint, '[{"rule": "base", "points": 1}, {"rule": "gold triple", "points": 2},
		{"rule": "refund undone", "points": 775}]'::jsonb)$$,
	'a raise after a partial refund gives back what the refund took, plus the raise');
-- Order times that are infinite or past the year 9999 count as the moment of the write.
INSERT INTO odd_orders (id, customer_id, total, created_at) VALUES (9, 504, 10, '10001-01-01');
INSERT INTO odd_orders (id, customer_id, total, created_at) VALUES (10, 504, 10, 'infinity'), (11, 504, 10, '-infinity');
INSERT INTO odd_orders (id, customer_id, total, created_at) VALUES (12, 504, 400, now());
SELECT results_eq(
	$$SELECT count(*), bool_and(ordered_at = now()) FROM loyalty.order_accrual
	   WHERE customer_id = 504 AND program_id = loyalty.program_id('odd')$$,
	$$VALUES (4::bigint, true)$$,
	'orders dated in the year 10001, infinity or -infinity are recorded at the moment of the write');
SELECT results_eq(
	$$SELECT a.tier, p.qualifying FROM loyalty.account a, loyalty.tier_progress('odd', 504) p
	   WHERE a.customer_id = 504 AND a.program_id = loyalty.program_id('odd')$$,
	$$VALUES ('gold'::text, 1130::numeric)$$,
	'and count toward the tier in this month: 560 + 60 + 60 + 450 reach gold');
-- An amount whose own points no balance can hold is a problem of the order
-- (points_overflow), not an error of the shop's write, on both order paths.
SELECT lives_ok($$INSERT INTO odd_orders (id, customer_id, total) VALUES (13, 505, 1e30)$$,
	'a one-row INSERT of an amount of 1e30 succeeds');
SELECT results_eq($$SELECT available, pending, lifetime_earned FROM loyalty.balance('odd', 505)$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint)$$, 'and credits nothing');
SELECT lives_ok($$INSERT INTO odd_orders (id, customer_id, total) VALUES (14, 505, 1e30), (15, 505, 5)$$,
	'a multi-row INSERT with an amount of 1e30 succeeds');
SELECT is((loyalty.balance('odd', 505)).available, 555::bigint,
	'the other order of the statement earns: 5 + 500 first purchase + 50');
SELECT lives_ok($$INSERT INTO odd_orders (id, customer_id, total)
	SELECT 20 + g, 505, CASE g WHEN 0 THEN 7 ELSE 2e20 END FROM generate_series(0, 1) g$$,
	'an INSERT ... SELECT with an amount of 2e20 succeeds');
SELECT results_eq($$SELECT available, pending, lifetime_earned FROM loyalty.balance('odd', 505)$$,
	$$VALUES (612::bigint, 0::bigint, 612::bigint)$$, 'only its order of 7 earns: 7 + 50');
SELECT results_eq(
	$$SELECT order_key, problem, detail FROM loyalty.accrual_problem
	   WHERE customer_id = 505 ORDER BY order_key$$,
	$$VALUES ('13'::text, 'points_overflow'::text, 'the amount 1000000000000000000000000000000 USD earns more than the largest number of points, 9223372036854775807'::text),
			 ('14', 'points_overflow', 'the amount 1000000000000000000000000000000 USD earns more than the largest number of points, 9223372036854775807'),
			 ('21', 'points_overflow', 'the amount 200000000000000000000 USD earns more than the largest number of points, 9223372036854775807')$$,
	'each is recorded as points_overflow with its amount and the limit, on both order paths');
SELECT is((SELECT array_agg(order_key ORDER BY order_key) FROM loyalty.order_accrual
			WHERE customer_id = 505 AND program_id = loyalty.program_id('odd')), '{15,20}'::text[],
	'the orders that earned are on record, those that did not are not');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'every balance still equals its ledger and lots');
-- A retyped tracked column is a broken configuration.
ALTER TABLE odd_orders ALTER COLUMN total TYPE double precision;
SELECT throws_ok($$INSERT INTO odd_orders (id, customer_id, total) VALUES (16, 501, 5)$$, '42P16',
	NULL, 'a tracked column retyped to double precision makes the INSERT fail with a clear error');

-- A broken configuration raises.
ALTER TABLE orders DROP COLUMN category;
SELECT throws_ok($$INSERT INTO orders (id, customer_id, total) VALUES (117, 1, 100000)$$, '42P16',
	'tracked category column "category" of table public.orders no longer exists',
	'a dropped tracked column makes the INSERT fail with a clear error');

-- A trigger copied by hand onto another table cannot earn into the program.
CREATE TABLE public.fake_orders (id bigint, customer_id bigint, total numeric);
CREATE TRIGGER forged AFTER INSERT ON fake_orders REFERENCING NEW TABLE AS n
	FOR EACH STATEMENT EXECUTE FUNCTION loyalty.order_trigger('1');
SELECT throws_ok($$INSERT INTO fake_orders VALUES (1, 1, 99999999)$$, '55000', NULL,
	'a hand-made trigger on another table is refused');

-- The birthday bonus: at most once a year, on the first order recorded in
-- the member's birthday month (program time zone); the year is the order's
-- local calendar year.  10 points per 100,000 VND, birthday +200, cap 300.
SELECT code FROM loyalty.create_program('bday', 'Birthday', 'VND', 10, 100000,
	time_zone => 'Asia/Ho_Chi_Minh');
SELECT name FROM loyalty.add_earn_rule('bday', 'birthday +200', 'birthday_bonus', bonus_points => 200);
SELECT name FROM loyalty.add_earn_rule('bday', 'cap 300', 'order_cap', cap_points => 300);
CREATE TABLE public.bday_orders (
	id text NOT NULL,
	customer_id bigint,
	total numeric NOT NULL,
	currency text NOT NULL,
	status text NOT NULL DEFAULT 'paid',
	created_at timestamptz NOT NULL
);
SELECT 'tracked' FROM loyalty.track_orders('public.bday_orders', 'bday', 'customer_id', 'id', 'total',
	currency_column => 'currency', status_column => 'status', ordered_at_column => 'created_at');
SELECT count(*) FROM generate_series(601, 606) c, loyalty.enroll('bday', c, birthday => '1990-06-15');
-- Orders in VND take the INSERT fast path (src/accrual.c), orders in USD
-- the general one: 10 USD = 250,000 VND = 20 points on both.
SELECT rate FROM loyalty.set_exchange_rate('USD', 'VND', 25000, '2020-01-01');

-- The general path.  The second June order, a later year's, a late order
-- of the year before it, a changed birthday.
INSERT INTO bday_orders VALUES ('b1', 601, 10, 'USD', 'paid', '2024-06-01 00:30+07');
INSERT INTO bday_orders VALUES ('b2', 601, 10, 'USD', 'paid', '2024-06-20 12:00+07');
SELECT results_eq(
	$$SELECT order_key, points, birthday_bonus FROM loyalty.order_accrual
	   WHERE customer_id = 601 ORDER BY order_key$$,
	$$VALUES ('b1'::text, 220::bigint, true), ('b2', 20, false)$$,
	'the first June order earns 20 + 200 birthday, the second June order 20');
SELECT results_eq(
	$$SELECT reference, detail FROM loyalty.ledger WHERE customer_id = 601 ORDER BY entry_no$$,
	$$VALUES ('b1'::text, '[{"rule": "base", "points": 20}, {"rule": "birthday +200", "points": 200}]'::jsonb),
			 ('b2', '[{"rule": "base", "points": 20}]')$$,
	'the second order''s ledger detail has no birthday component');
INSERT INTO bday_orders VALUES ('b3', 601, 10, 'USD', 'paid', '2025-06-30 23:00+07');
INSERT INTO bday_orders VALUES ('b4', 601, 10, 'USD', 'paid', '2024-06-25 12:00+07');
SELECT results_eq(
	$$SELECT order_key, points, birthday_bonus FROM loyalty.order_accrual
	   WHERE customer_id = 601 AND order_key IN ('b3', 'b4') ORDER BY order_key$$,
	$$VALUES ('b3'::text, 220::bigint, true), ('b4', 20, false)$$,
	'next year''s birthday month pays it again; a late order of the earlier year does not');
SELECT is((SELECT birthday_bonus_year FROM loyalty.account WHERE customer_id = 601
			AND program_id = loyalty.program_id('bday')), 2025,
	'the account keeps the latest year paid');
SELECT customer_id FROM loyalty.update_member('bday', 601, birthday => '1990-07-04');
INSERT INTO bday_orders VALUES ('b5', 601, 10, 'USD', 'paid', '2025-07-10 12:00+07');
SELECT is((SELECT points FROM loyalty.order_accrual WHERE order_key = 'b5'), 20::bigint,
	'a birthday moved to July after 2025''s bonus was paid: a July 2025 order earns no second one');
SELECT is((loyalty.balance('bday', 601)).available, 500::bigint, '220 + 20 + 220 + 20 + 20');

-- An order cancelled at insert or of 0 VND earns nothing and leaves the
-- bonus for the next paying order.
INSERT INTO bday_orders VALUES ('c1', 602, 10, 'USD', 'cancelled', '2024-06-01 12:00+07');
INSERT INTO bday_orders VALUES ('c2', 602, 0, 'USD', 'paid', '2024-06-02 12:00+07');
INSERT INTO bday_orders VALUES ('c3', 602, 250000, 'VND', 'paid', '2024-06-03 12:00+07');
SELECT results_eq(
	$$SELECT order_key, points, birthday_bonus FROM loyalty.order_accrual
	   WHERE customer_id = 602 ORDER BY order_key$$,
	$$VALUES ('c1'::text, 0::bigint, false), ('c2', 0, false), ('c3', 220, true)$$,
	'a cancelled and a 0 VND order do not use the bonus: the next paying June order gets it');

-- A refund of the order that got the bonus gives back its 220 points; the
-- year's bonus stays used.
INSERT INTO bday_orders VALUES ('d1', 603, 10, 'USD', 'paid', '2024-06-03 12:00+07');
UPDATE bday_orders SET status = 'refunded' WHERE id = 'd1';
INSERT INTO bday_orders VALUES ('d2', 603, 10, 'USD', 'paid', '2024-06-04 12:00+07');
SELECT results_eq(
	$$SELECT kind, points, reference FROM loyalty.ledger WHERE customer_id = 603 ORDER BY entry_no$$,
	$$VALUES ('earn'::text, 220::bigint, 'd1'::text), ('reverse', -220, 'd1'), ('earn', 20, 'd2')$$,
	'the refund reverses 220 (bonus included); the next June order earns 20, no second bonus');

-- A raise is priced with the bonus the order had, whatever the birthday is
-- now: capped at 300, so a raise of the bonus order earns less.
INSERT INTO bday_orders VALUES ('e1', 604, 250000, 'VND', 'paid', '2024-06-03 12:00+07');
SELECT customer_id FROM loyalty.update_member('bday', 604, birthday => '1990-08-15');
INSERT INTO bday_orders VALUES ('e2', 604, 10, 'USD', 'paid', '2024-08-05 12:00+07');
UPDATE bday_orders SET total = CASE currency WHEN 'VND' THEN 1500000 ELSE 60 END WHERE id IN ('e1', 'e2');
SELECT results_eq(
	$$SELECT order_key, points, earned_points, birthday_bonus FROM loyalty.order_accrual
	   WHERE customer_id = 604 ORDER BY order_key$$,
	$$VALUES ('e1'::text, 300::bigint, 220::bigint, true), ('e2', 150, 20, false)$$,
	'raised to 1,500,000 from 220 and 20 first earned: the bonus order reaches the 300 cap (150 + 200), the other 150 with no bonus');
SELECT results_eq(
	$$SELECT reference, points, detail FROM loyalty.ledger WHERE customer_id = 604 AND reason = 'order amount changed'
	   ORDER BY entry_no$$,
	$$VALUES ('e1'::text, 80::bigint, '[{"rule": "base", "points": 130}, {"rule": "cap 300", "points": -50}]'::jsonb),
			 ('e2', 130, '[{"rule": "base", "points": 130}]')$$,
	'the raises are +80 and +130: neither pays nor takes a birthday bonus');

-- A fraud check holds the bonus order's points: the bonus is used all the same.
SELECT action FROM loyalty.set_fraud_check('bday', 'points_per_day', 'hold', 100);
INSERT INTO bday_orders VALUES ('g1', 605, 10, 'USD', 'paid', '2024-06-03 12:00+07');
INSERT INTO bday_orders VALUES ('g2', 605, 250000, 'VND', 'paid', '2024-06-10 12:00+07');
INSERT INTO bday_orders
SELECT id, 605, 250000, 'VND', 'paid', t::timestamptz
  FROM (VALUES ('g3', '2025-06-01 12:00+07'), ('g4', '2025-06-02 12:00+07')) v(id, t);
SELECT results_eq(
	$$SELECT order_key, points, held, birthday_bonus FROM loyalty.order_accrual
	   WHERE customer_id = 605 ORDER BY order_key$$,
	$$VALUES ('g1'::text, 220::bigint, true, true), ('g2', 20, false, false),
			 ('g3', 220, true, true), ('g4', 20, false, false)$$,
	'a held order that earns the bonus uses it, on both paths: the next June order earns 20');
SELECT results_eq(
	$$SELECT available, pending FROM loyalty.balance('bday', 605)$$,
	$$VALUES (40::bigint, 440::bigint)$$, 'the two held bonus orders'' 440 points are pending');
SELECT action FROM loyalty.set_fraud_check('bday', 'points_per_day', 'off');

-- One multi-row INSERT: in statement order, the first June 2024 order gets
-- the bonus, then the first June 2025 one; 2024's later ones do not.
INSERT INTO bday_orders
SELECT id, 606, 250000, 'VND', 'paid', t::timestamptz
  FROM (VALUES ('f1', '2024-06-20 12:00+07'), ('f2', '2024-06-02 12:00+07'),
			   ('f3', '2025-06-10 12:00+07'), ('f4', '2024-06-30 12:00+07'),
			   ('f5', '2025-06-11 12:00+07')) v(id, t);
SELECT results_eq(
	$$SELECT order_key, points, birthday_bonus FROM loyalty.order_accrual
	   WHERE customer_id = 606 ORDER BY order_key$$,
	$$VALUES ('f1'::text, 220::bigint, true), ('f2', 20, false), ('f3', 220, true), ('f4', 20, false),
			 ('f5', 20, false)$$,
	'INSERT ... SELECT: 220 for the first June 2024 and June 2025 orders, 20 for the rest');
SELECT results_eq(
	$$SELECT a.available, a.birthday_bonus_year, l.detail FROM loyalty.account a
	   JOIN loyalty.ledger l USING (customer_id, program_id) WHERE customer_id = 606
		AND program_id = loyalty.program_id('bday')$$,
	$$VALUES (500::bigint, 2025, '[{"rule": "base", "points": 100}, {"rule": "birthday +200", "points": 400},
		{"orders": 5}]'::jsonb)$$,
	'one ledger entry of 500 with two birthday bonuses; the account keeps 2025');
-- The row path after the statement path, and the other way round.
INSERT INTO bday_orders VALUES ('f6', 606, 10, 'USD', 'paid', '2025-06-12 12:00+07');
INSERT INTO bday_orders
SELECT id, 603, 250000, 'VND', 'paid', t::timestamptz
  FROM (VALUES ('d3', '2024-06-20 12:00+07'), ('d4', '2025-06-02 12:00+07')) v(id, t);
SELECT results_eq(
	$$SELECT order_key, points FROM loyalty.order_accrual
	   WHERE order_key IN ('f6', 'd3', 'd4') ORDER BY order_key$$,
	$$VALUES ('d3'::text, 20::bigint), ('d4', 220), ('f6', 20)$$,
	'each path sees the year the other paid');

-- An index added to the engine's tables between orders (a reporting index,
-- say) gets the next orders' rows: the order path keeps its index lists per
-- backend and must see the new one.
CREATE EXTENSION amcheck;
CREATE INDEX lot_earned_at_report ON loyalty.lot (earned_at);
CREATE INDEX ledger_reason_report ON loyalty.ledger (reason) WHERE points > 0;
INSERT INTO bday_orders VALUES ('ix1', 606, 250000, 'VND', 'paid', '2025-07-01 12:00+07');
INSERT INTO bday_orders
SELECT id, 603, 250000, 'VND', 'paid', '2025-07-02 12:00+07' FROM (VALUES ('ix2'), ('ix3')) v(id);
SELECT lives_ok($$SELECT bt_index_check('loyalty.lot_earned_at_report', true),
						 bt_index_check('loyalty.ledger_reason_report', true)$$,
	'an index created between orders holds every lot and ledger entry written after it');
SELECT results_eq(
	$$SELECT order_key, points FROM loyalty.order_accrual
	   WHERE order_key IN ('ix1', 'ix2', 'ix3') ORDER BY order_key$$,
	$$VALUES ('ix1'::text, 20::bigint), ('ix2', 20), ('ix3', 20)$$,
	'the orders after the new indexes earned as before');

-- A birthday bonus the order cap cuts away entirely pays nothing: the order
-- is recorded without it, its ledger detail does not list it, and the year
-- stays free for the next June order.  One the cap cuts partly is paid in
-- part and uses the year.  (Cap 300, +200, 10 points per 100,000 VND.)
SELECT count(*) FROM generate_series(607, 610) c, loyalty.enroll('bday', c, birthday => '1990-06-15');
-- The general path (USD): 120 USD = 3,000,000 VND = 300 base points.
INSERT INTO bday_orders VALUES ('k1', 607, 120, 'USD', 'paid', '2024-06-01 12:00+07');
INSERT INTO bday_orders VALUES ('k2', 607, 10, 'USD', 'paid', '2024-06-02 12:00+07');
-- The INSERT fast path, single INSERTs: 300 base (cut away), 200 base (cut partly), 20 base.
INSERT INTO bday_orders VALUES ('l1', 608, 3000000, 'VND', 'paid', '2024-06-01 12:00+07');
INSERT INTO bday_orders VALUES ('l2', 608, 2000000, 'VND', 'paid', '2024-06-02 12:00+07');
INSERT INTO bday_orders VALUES ('l3', 608, 250000, 'VND', 'paid', '2024-06-03 12:00+07');
-- The fast path, one INSERT ... SELECT: 350 base (cut to 300), then 20 and 20.
INSERT INTO bday_orders
SELECT id, 609, t, 'VND', 'paid', d::timestamptz
  FROM (VALUES ('m1', 3500000, '2024-06-01 12:00+07'), ('m2', 250000, '2024-06-02 12:00+07'),
			   ('m3', 250000, '2024-06-03 12:00+07')) v(id, t, d);
INSERT INTO bday_orders VALUES ('n1', 610, 3000000, 'VND', 'paid', '2024-06-01 12:00+07');
SELECT results_eq(
	$$SELECT order_key, points, birthday_bonus FROM loyalty.order_accrual
	   WHERE customer_id BETWEEN 607 AND 610 ORDER BY order_key$$,
	$$VALUES ('k1'::text, 300::bigint, false), ('k2', 220, true),
			 ('l1', 300, false), ('l2', 300, true), ('l3', 20, false),
			 ('m1', 300, false), ('m2', 220, true), ('m3', 20, false), ('n1', 300, false)$$,
	'an order the cap holds at 300 without the bonus does not use it, on both paths: the next June order gets it; one cut partly (200 + 200 capped at 300) does');
SELECT results_eq(
	$$SELECT reference, points, detail FROM loyalty.ledger
	   WHERE customer_id BETWEEN 607 AND 609 AND program_id = loyalty.program_id('bday') ORDER BY customer_id, entry_no$$,
	$$VALUES ('k1'::text, 300::bigint, '[{"rule": "base", "points": 300}]'::jsonb),
			 ('k2', 220, '[{"rule": "base", "points": 20}, {"rule": "birthday +200", "points": 200}]'),
			 ('l1', 300, '[{"rule": "base", "points": 300}]'),
			 ('l2', 300, '[{"rule": "base", "points": 200}, {"rule": "birthday +200", "points": 200},
				{"rule": "cap 300", "points": -100}]'),
			 ('l3', 20, '[{"rule": "base", "points": 20}]'),
			 (NULL, 540, '[{"rule": "base", "points": 390}, {"rule": "cap 300", "points": -50},
				{"rule": "birthday +200", "points": 200}, {"orders": 3}]')$$,
	'the detail lists the bonus only where it paid: not for an order the cap holds without it');
SELECT results_eq(
	$$SELECT customer_id, birthday_bonus_year FROM loyalty.account
	   WHERE customer_id BETWEEN 607 AND 610 AND program_id = loyalty.program_id('bday') ORDER BY customer_id$$,
	$$VALUES (607::bigint, 2024), (608, 2024), (609, 2024), (610, NULL)$$,
	'the year is used by the orders the bonus paid for, and free for a member whose only June order the cap held');
-- A raise never pays the bonus an order did not get, whether another order
-- used the year since (k1, l1) or not (n1), even once the cap leaves room.
SELECT loyalty.drop_earn_rule('bday', 'cap 300');
SELECT name FROM loyalty.add_earn_rule('bday', 'cap 1000', 'order_cap', cap_points => 1000);
UPDATE bday_orders SET total = CASE currency WHEN 'VND' THEN 4000000 ELSE 160 END WHERE id IN ('k1', 'l1', 'n1');
SELECT results_eq(
	$$SELECT reference, points, detail FROM loyalty.ledger
	   WHERE customer_id BETWEEN 607 AND 610 AND reason = 'order amount changed' ORDER BY reference$$,
	$$VALUES ('k1'::text, 100::bigint, '[{"rule": "base", "points": 100}]'::jsonb),
			 ('l1', 100, '[{"rule": "base", "points": 100}]'),
			 ('n1', 100, '[{"rule": "base", "points": 100}]')$$,
	'raised from 300 to 400 base points: each earns the 100 of the raise and no birthday bonus');
INSERT INTO bday_orders VALUES ('n2', 610, 250000, 'VND', 'paid', '2024-06-02 12:00+07');
SELECT results_eq(
	$$SELECT order_key, points, earned_points, birthday_bonus FROM loyalty.order_accrual
	   WHERE customer_id = 610 ORDER BY order_key$$,
	$$VALUES ('n1'::text, 400::bigint, 300::bigint, false), ('n2', 220, 220, true)$$,
	'the raised order still has no bonus; the member''s next June order gets it');

-- Points that would take a member's balance or lifetime earned points past
-- the largest bigint are a problem of the order (points_overflow), not an
-- error of the shop's write, on both paths; the order earns nothing.
SELECT code FROM loyalty.create_program('huge', 'Huge', 'VND', 1, 1);
CREATE TABLE public.huge_orders (
	id text NOT NULL,
	customer_id bigint,
	total numeric NOT NULL,
	currency text NOT NULL DEFAULT 'VND'
);
SELECT 'tracked' FROM loyalty.track_orders('public.huge_orders', 'huge', 'customer_id', 'id', 'total',
	currency_column => 'currency');
SELECT count(*) FROM generate_series(801, 804) c, loyalty.enroll('huge', c);
-- 1000 points below the limit: of 600, 500 and 400 in one statement, the 500 does not fit.
SELECT entry_no FROM loyalty.adjust('huge', 801, 9223372036854774807, 'near the limit');
SELECT lives_ok(
	$$INSERT INTO huge_orders (id, customer_id, total) VALUES ('v1', 801, 600), ('v2', 801, 500), ('v3', 801, 400)$$,
	'an INSERT ... VALUES whose second order would pass the largest balance succeeds');
INSERT INTO huge_orders (id, customer_id, total) VALUES ('v4', 801, 1);
INSERT INTO huge_orders (id, customer_id, total, currency) VALUES ('v5', 801, 1, 'USD');
SELECT results_eq(
	$$SELECT available, pending, lifetime_earned FROM loyalty.balance('huge', 801)$$,
	$$VALUES (9223372036854775807::bigint, 0::bigint, 1000::bigint)$$,
	'the 600 and the 400 earn, up to exactly the largest bigint; nothing else is credited');
SELECT results_eq(
	$$SELECT order_key, problem, detail FROM loyalty.accrual_problem
	   WHERE customer_id = 801 AND program_id = loyalty.program_id('huge') ORDER BY order_key$$,
	$$VALUES ('v2'::text, 'points_overflow'::text, 'the order''s 500 points would take the member''s balance past the largest number of points, 9223372036854775807 (available 9223372036854775807, pending 0, lifetime earned 1000)'::text),
			 ('v4', 'points_overflow', 'the order''s 1 points would take the member''s balance past the largest number of points, 9223372036854775807 (available 9223372036854775807, pending 0, lifetime earned 1000)'),
			 ('v5', 'points_overflow', 'the order''s 25000 points would take the member''s balance past the largest number of points, 9223372036854775807 (available 9223372036854775807, pending 0, lifetime earned 1000)')$$,
	'the orders that do not fit are recorded, with the points and the balance, on both paths');
SELECT is((SELECT array_agg(order_key ORDER BY order_key) FROM loyalty.order_accrual
			WHERE customer_id = 801 AND program_id = loyalty.program_id('huge')), '{v1,v3}'::text[],
	'only the orders that earned are on record: a re-send of the others is tried again');
SELECT throws_ok($$SELECT loyalty.earn('huge', 801, 1)$$, '22003',
	'the total balance would exceed the largest number of points', 'earn() still raises 22003 at the limit');
SELECT throws_ok($$SELECT loyalty.adjust('huge', 801, 1, 'one more')$$, '22003',
	'the total balance would exceed the largest number of points', 'adjust() still raises 22003 at the limit');
CREATE FUNCTION pg_temp.detail_and_hint(sql text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
	detail text;
	hint text;
BEGIN
	EXECUTE sql;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	RETURN ARRAY[detail, hint];
END $$;
SELECT is(pg_temp.detail_and_hint($$SELECT loyalty.earn('huge', 801, 5)$$),
	ARRAY['The member holds 9223372036854775807 available and 0 pending points; 5 more pass the limit of 9223372036854775807.',
		  'Add fewer points, or redeem or adjust some away first.'],
	'the error says what the member holds and what to do');
-- Lifetime earned points at the limit, with nothing left to spend.
SELECT entry_no FROM loyalty.earn('huge', 802, 9223372036854775000);
SELECT entry_no FROM loyalty.redeem('huge', 802, 9223372036854775000);
INSERT INTO huge_orders (id, customer_id, total) VALUES ('w1', 802, 1000);
SELECT results_eq(
	$$SELECT b.available, b.lifetime_earned, p.problem, p.detail
		FROM loyalty.balance('huge', 802) b, loyalty.accrual_problem p
	   WHERE p.customer_id = 802 AND p.program_id = loyalty.program_id('huge')$$,
	$$VALUES (0::bigint, 9223372036854775000::bigint, 'points_overflow'::text,
		'the order''s 1000 points would take the member''s lifetime earned points past the largest number of points, 9223372036854775807 (available 0, pending 0, lifetime earned 9223372036854775000)'::text)$$,
	'an order that would pass the largest lifetime earned points earns nothing and is recorded');
-- A raise that would pass the limit.
INSERT INTO huge_orders (id, customer_id, total) VALUES ('x1', 803, 100);
SELECT entry_no FROM loyalty.adjust('huge', 803, 9223372036854775657, 'near the limit');
SELECT lives_ok($$UPDATE huge_orders SET total = 200 WHERE id = 'x1'$$,
	'an UPDATE raising an order past the largest balance succeeds');
SELECT results_eq(
	$$SELECT b.available, o.amount, o.points, p.problem
		FROM loyalty.balance('huge', 803) b, loyalty.order_accrual o, loyalty.accrual_problem p
	   WHERE o.customer_id = 803 AND o.program_id = loyalty.program_id('huge')
		 AND p.customer_id = 803 AND p.program_id = loyalty.program_id('huge')$$,
	$$VALUES (9223372036854775757::bigint, 100::numeric, 100::bigint, 'points_overflow'::text)$$,
	'the raise is recorded as a problem: the order keeps its 100 points and amount');
-- A rule's points summed over one statement's orders would pass the limit
-- in the shared ledger entry's detail: the order earns in an entry of its own.
SELECT name FROM loyalty.add_earn_rule('huge', 'cap 300', 'order_cap', cap_points => 300);
INSERT INTO huge_orders (id, customer_id, total) VALUES ('y1', 804, 5000000000000000000),
	('y2', 804, 5000000000000000000), ('y3', 804, 7);
SELECT results_eq(
	$$SELECT reference, points, detail FROM loyalty.ledger
	   WHERE customer_id = 804 AND program_id = loyalty.program_id('huge') ORDER BY entry_no DESC$$,
	$$VALUES ('y2'::text, 300::bigint, '[{"rule": "base", "points": 5000000000000000000},
				{"rule": "cap 300", "points": -4999999999999999700}]'::jsonb),
			 (NULL, 307, '[{"rule": "base", "points": 5000000000000000007},
				{"rule": "cap 300", "points": -4999999999999999700}, {"orders": 2}]')$$,
	'y1 and y3 share an entry; y2 earns its 300 in one of its own');

-- An UPDATE that changes none of the tracked columns (a shipping note)
-- changes no points, even after the rules or the exchange rate changed: a
-- raised order is not priced again, an order in another currency not
-- converted again.
SELECT code FROM loyalty.create_program('notes', 'Notes', 'VND', 10, 100000);
CREATE TABLE note_orders (id int, customer_id bigint, total numeric, currency text DEFAULT 'VND',
	note text, created_at timestamptz DEFAULT now());
SELECT 'tracked' FROM loyalty.track_orders('public.note_orders', 'notes', 'customer_id', 'id', 'total',
	currency_column => 'currency', ordered_at_column => 'created_at');
SELECT 'rate' FROM loyalty.set_exchange_rate('USD', 'VND', 25000, valid_from => now() - interval '10 days');
INSERT INTO note_orders (id, customer_id, total) VALUES (1, 901, 1000000);
INSERT INTO note_orders (id, customer_id, total, currency) VALUES (2, 902, 100, 'USD');
UPDATE note_orders SET total = 2000000 WHERE id = 1;
SELECT name FROM loyalty.add_earn_rule('notes', 'triple', 'campaign_multiplier', multiplier => 3);
SELECT 'rate' FROM loyalty.set_exchange_rate('USD', 'VND', 50000, valid_from => now() - interval '1 day');
UPDATE note_orders SET note = 'shipped';
SELECT results_eq(
	$$SELECT customer_id, available, lifetime_earned FROM loyalty.account
	   WHERE program_id = loyalty.program_id('notes') ORDER BY customer_id$$,
	$$VALUES (901::bigint, 200::bigint, 200::bigint), (902, 250, 250)$$,
	'a note on the orders keeps their 200 and 250 points');
UPDATE note_orders SET total = 3000000 WHERE id = 1;
SELECT is((loyalty.balance('notes', 901)).available, 700::bigint,
	'a real raise is priced now: 100 first earned + (900 - 300) by the tripled rules');
-- A refund of a raised order finds its first points in the lot it shares
-- with another order of its INSERT: under forgive nothing is left over.
SELECT code FROM loyalty.create_program('shared', 'Shared', 'VND', 10, 100000, return_days => 14,
	negative_balance => 'forgive');
CREATE TABLE shared_orders (id int, customer_id bigint, total numeric, status text DEFAULT 'paid');
SELECT 'tracked' FROM loyalty.track_orders('public.shared_orders', 'shared', 'customer_id', 'id',
	'total', status_column => 'status');
INSERT INTO shared_orders VALUES (1, 911, 1000000), (2, 911, 500000);
UPDATE shared_orders SET total = 2000000 WHERE id = 1;
UPDATE shared_orders SET status = 'refunded' WHERE id = 1;
SELECT results_eq(
	$$SELECT b.available, b.pending, l.detail
		FROM loyalty.balance('shared', 911) b, loyalty.statement('shared', 911) l
	   WHERE l.kind = 'reverse'$$,
	$$VALUES (0::bigint, 50::bigint,
		'{"clawback": 200, "from_pending": 200, "from_available": 0}'::jsonb)$$,
	'the refund takes the 100 of the raise and the 100 in the shared lot: order 2 keeps its 50 pending');
-- character(n) status and channel columns: their padding is no part of the value.
SELECT code FROM loyalty.create_program('padded', 'Padded', 'VND', 10, 100000);
SELECT name FROM loyalty.add_earn_rule('padded', 'outlet half', 'channel_multiplier',
	channel => 'outlet', multiplier => 0.5);
CREATE TABLE padded_orders (id int, customer_id bigint, total numeric,
	status character(10) DEFAULT 'paid', channel character(8) DEFAULT 'outlet',
	currency character(5) DEFAULT 'VND');
SELECT 'tracked' FROM loyalty.track_orders('public.padded_orders', 'padded', 'customer_id', 'id',
	'total', status_column => 'status', channel_column => 'channel', currency_column => 'currency');
INSERT INTO padded_orders (id, customer_id, total) VALUES (1, 921, 1000000), (2, 921, 1000000);
INSERT INTO padded_orders (id, customer_id, total, status) VALUES (3, 922, 1000000, 'cancelled');
SELECT is((loyalty.balance('padded', 921)).available, 100::bigint,
	'two outlet orders of 1,000,000 VND in char(8) and char(5) columns earn 50 each');
UPDATE padded_orders SET status = 'refunded' WHERE id = 1;
SELECT results_eq(
	$$SELECT customer_id, available FROM loyalty.account
	   WHERE program_id = loyalty.program_id('padded') ORDER BY customer_id$$,
	$$VALUES (921::bigint, 50::bigint), (922, 0)$$,
	'a char(10) refunded status takes back 50; an order inserted cancelled earns nothing');
-- Keys swapped or renumbered in one UPDATE: every order still holds its points.
SELECT code FROM loyalty.create_program('renumber', 'Renumber', 'VND', 10, 100000);
CREATE TABLE renumber_orders (id int, customer_id bigint, total numeric);
SELECT 'tracked' FROM loyalty.track_orders('public.renumber_orders', 'renumber', 'customer_id', 'id', 'total');
INSERT INTO renumber_orders VALUES (1, 931, 1000000), (2, 931, 2000000);
INSERT INTO renumber_orders VALUES (1, 932, 1000000), (2, 932, 2000000), (3, 932, 3000000);
UPDATE renumber_orders SET id = 3 - id WHERE customer_id = 931;
UPDATE renumber_orders SET id = id + 1 WHERE customer_id = 932;
SELECT results_eq(
	$$SELECT customer_id, order_key, state, points FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('renumber') ORDER BY customer_id, order_key$$,
	$$VALUES (931::bigint, '1'::text, 'active'::text, 200::bigint), (931, '2', 'active', 100),
			 (932, '1', 'deleted', 0), (932, '2', 'active', 100), (932, '3', 'active', 200),
			 (932, '4', 'active', 300)$$,
	'swapped keys hold 200 and 100; keys 1, 2, 3 renumbered to 2, 3, 4 hold 100, 200, 300');
SELECT results_eq(
	$$SELECT customer_id, available FROM loyalty.account
	   WHERE program_id = loyalty.program_id('renumber') ORDER BY customer_id$$,
	$$VALUES (931::bigint, 300::bigint), (932, 600)$$,
	'the members keep their 300 and 600 points');
-- forgive: points forgiven at a refund are earned back first, so the refund
-- undone, or the order deleted and inserted again, nets its points once, as
-- under debt.  A 100-point order, its 100 points spent, then refunded.
SELECT code FROM loyalty.create_program('forgiving', 'Forgiving', 'VND', 10, 100000,
	negative_balance => 'forgive');
SELECT code FROM loyalty.create_program('owing', 'Owing', 'VND', 10, 100000);
CREATE TABLE forgive_orders (id int, customer_id bigint, total numeric, status text DEFAULT 'paid');
CREATE TABLE debt_orders (LIKE forgive_orders INCLUDING DEFAULTS);
SELECT 'tracked' FROM loyalty.track_orders('public.forgive_orders', 'forgiving', 'customer_id',
	'id', 'total', status_column => 'status');
SELECT 'tracked' FROM loyalty.track_orders('public.debt_orders', 'owing', 'customer_id',
	'id', 'total', status_column => 'status');
INSERT INTO forgive_orders VALUES (1, 941, 1000000), (2, 943, 1000000), (3, 944, 1000000);
INSERT INTO debt_orders VALUES (1, 942, 1000000);
SELECT entry_no FROM loyalty.redeem('forgiving', 941, 100, 'spend');
SELECT entry_no FROM loyalty.redeem('forgiving', 943, 100, 'spend');
SELECT entry_no FROM loyalty.redeem('forgiving', 944, 40, 'spend');
SELECT entry_no FROM loyalty.redeem('owing', 942, 100, 'spend');
UPDATE forgive_orders SET status = 'refunded' WHERE id IN (1, 3);
UPDATE debt_orders SET status = 'refunded';
SELECT results_eq(
	$$SELECT order_key, state, points, forgiven FROM loyalty.order_accrual
	   WHERE program_id = loyalty.program_id('forgiving') ORDER BY order_key$$,
	$$VALUES ('1'::text, 'reversed'::text, 0::bigint, 100::bigint), ('2', 'active', 100, 0),
			 ('3', 'reversed', 0, 40)$$,
	'a refund under forgive keeps the points forgiven on the order: 100 of 100, 40 of 100');
UPDATE forgive_orders SET status = 'paid' WHERE id IN (1, 3);
UPDATE debt_orders SET status = 'paid';
SELECT results_eq(
	$$SELECT a.customer_id, a.available, a.lifetime_earned
		FROM loyalty.account a WHERE a.customer_id IN (941, 942, 944) ORDER BY 1$$,
	$$VALUES (941::bigint, 0::bigint, 100::bigint), (942, 0, 200), (944, 60, 160)$$,
	'the refund undone earns back the forgiven points first: 0 under forgive as under debt, and 60 after 40 forgiven');
SELECT results_eq(
	$$SELECT l.customer_id, l.kind, l.points, l.detail FROM loyalty.ledger l
	   WHERE l.customer_id IN (941, 944) AND l.entry_no = 4 ORDER BY 1$$,
	$$VALUES (941::bigint, 'earn'::text, 0::bigint,
			  '[{"rule": "amount change", "points": 100}, {"unforgiven": 100}]'::jsonb),
			 (944, 'earn', 60, '[{"rule": "amount change", "points": 100}, {"unforgiven": 40}]')$$,
	'the earn entry says what it earned back of the forgiven points: all 100 (0 credited), 40 of 100 (60 credited)');
-- The order holds its 100 again: the same refund and undo, once more, change nothing.
UPDATE forgive_orders SET status = 'refunded' WHERE id = 1;
UPDATE forgive_orders SET status = 'paid' WHERE id = 1;
SELECT results_eq(
	$$SELECT b.available, b.lifetime_earned, o.points, o.forgiven
		FROM loyalty.balance('forgiving', 941) b, loyalty.order_accrual o
	   WHERE o.customer_id = 941$$,
	$$VALUES (0::bigint, 100::bigint, 100::bigint, 0::bigint)$$,
	'refunded and undone again: still 0 points, the order holds 100, nothing left forgiven');
-- DELETE, then the same order inserted again (net: once).
DELETE FROM forgive_orders WHERE id = 2;
INSERT INTO forgive_orders VALUES (2, 943, 1000000);
SELECT results_eq(
	$$SELECT b.available, b.lifetime_earned, l.points, l.detail, o.state, o.points, o.forgiven
		FROM loyalty.balance('forgiving', 943) b, loyalty.order_accrual o, loyalty.ledger l
	   WHERE o.customer_id = 943 AND l.customer_id = 943 AND l.entry_no = 4$$,
	$$VALUES (0::bigint, 100::bigint, 0::bigint,
			  '[{"rule": "base", "points": 100}, {"unforgiven": 100}]'::jsonb, 'active'::text,
			  100::bigint, 0::bigint)$$,
	'a deleted order inserted again earns back the 100 forgiven at its delete: 0 credited');
-- An order recorded with nothing to pay and paid later is a new purchase
-- then: the same first order inserted paid, inserted empty and totalled, or
-- inserted cancelled and reinstated earns the same.
SELECT code FROM loyalty.create_program('carts', 'Carts', 'VND', 10, 100000);
SELECT name FROM loyalty.add_earn_rule('carts', 'welcome +50', 'first_purchase_bonus', bonus_points => 50);
SELECT name FROM loyalty.add_earn_rule('carts', 'launch +30', 'campaign_bonus', bonus_points => 30);
CREATE TABLE cart_orders (id int, customer_id bigint, total numeric, status text DEFAULT 'paid');
SELECT 'tracked' FROM loyalty.track_orders('public.cart_orders', 'carts', 'customer_id', 'id',
	'total', status_column => 'status');
-- More than one order in an hour is flagged: the cart is one order, checked when it pays.
SELECT check_name FROM loyalty.set_fraud_check('carts', 'order_velocity', 'flag', 1);
INSERT INTO cart_orders VALUES (1, 951, 1000000, 'paid'), (2, 952, 0, 'paid'), (3, 953, 1000000, 'cancelled');
UPDATE cart_orders SET total = 1000000 WHERE id = 2;
UPDATE cart_orders SET status = 'paid' WHERE id = 3;
SELECT results_eq(
	$$SELECT o.customer_id, o.state, o.points, o.earned_points, o.first_purchase, a.available,
			 a.order_count
		FROM loyalty.order_accrual o JOIN loyalty.account a USING (customer_id, program_id)
	   WHERE o.program_id = loyalty.program_id('carts') ORDER BY 1$$,
	$$VALUES (951::bigint, 'active'::text, 180::bigint, 180::bigint, true, 180::bigint, 1::bigint),
			 (952, 'active', 180, 180, true, 180, 1), (953, 'active', 180, 180, true, 180, 1)$$,
	'inserted paid, totalled by an UPDATE, reinstated: 100 + 50 first purchase + 30 campaign, one order');
INSERT INTO cart_orders VALUES (12, 952, 1000000), (13, 953, 1000000);
SELECT results_eq(
	$$SELECT customer_id, available, order_count FROM loyalty.account
	   WHERE program_id = loyalty.program_id('carts') AND customer_id IN (952, 953) ORDER BY 1$$,
	$$VALUES (952::bigint, 310::bigint, 2::bigint), (953, 310, 2)$$,
	'the next order is no first purchase: 130');
SELECT results_eq(
	$$SELECT customer_id, order_key, measured FROM loyalty.fraud_flag
	   WHERE program_id = loyalty.program_id('carts') ORDER BY 1$$,
	$$VALUES (952::bigint, '12'::text, 2::bigint), (953, '13', 2)$$,
	'the fraud checks count each first order once, when it pays: only the second order is a second order');
-- A voided order moved to another member, or to another key, stays voided.
SELECT code FROM loyalty.create_program('voiding', 'Voiding', 'VND', 10, 100000);
SELECT name FROM loyalty.add_earn_rule('voiding', 'welcome +50', 'first_purchase_bonus', bonus_points => 50);
SELECT check_name FROM loyalty.set_fraud_check('voiding', 'duplicate_order', 'hold');
CREATE TABLE void_orders (id int, customer_id bigint, total numeric);
SELECT 'tracked' FROM loyalty.track_orders('public.void_orders', 'voiding', 'customer_id', 'id', 'total');
INSERT INTO void_orders VALUES (1, 961, 700000), (2, 961, 700000);
SELECT status FROM loyalty.review('voiding', 961, 1, 'void', 'card testing');
UPDATE void_orders SET customer_id = 962 WHERE id = 2;
SELECT results_eq(
	$$SELECT o.customer_id, o.order_key, o.state, o.points, o.first_purchase,
			 o.voided_at IS NOT NULL, a.available, a.pending, a.order_count
		FROM loyalty.order_accrual o JOIN loyalty.account a USING (customer_id, program_id)
	   WHERE o.program_id = loyalty.program_id('voiding') ORDER BY 1, 2$$,
	$$VALUES (961::bigint, '1'::text, 'active'::text, 120::bigint, true, false, 120::bigint,
			  0::bigint, 2::bigint),
			 (961, '2', 'deleted', 0, false, true, 120, 0, 2),
			 (962, '2', 'active', 0, false, true, 0, 0, 0)$$,
	'the voided order moved to member 962 earns nothing there, is no first purchase and stays voided');
UPDATE void_orders SET id = 3 WHERE id = 2;
INSERT INTO void_orders VALUES (4, 962, 1000000);
SELECT results_eq(
	$$SELECT o.order_key, o.points, o.voided_at IS NOT NULL, a.available, a.order_count
		FROM loyalty.order_accrual o JOIN loyalty.account a USING (customer_id, program_id)
	   WHERE o.customer_id = 962 ORDER BY 1$$,
	$$VALUES ('2'::text, 0::bigint, true, 150::bigint, 1::bigint), ('3', 0, true, 150, 1),
			 ('4', 150, false, 150, 1)$$,
	'renumbered it stays voided; the member''s first real order gets the first-purchase bonus: 100 + 50');
SELECT is_empty($$SELECT * FROM loyalty.verify()$$, 'every balance still equals its ledger and lots');
SELECT * FROM finish();
ROLLBACK;
