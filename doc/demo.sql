-- The loyalty demo: a Vietnamese coffee-and-bakery chain running
-- "10 points per 100,000 VND" inside its own database.
\set ON_ERROR_STOP on
\set QUIET on
\pset footer off
SET client_min_messages = notice;

\echo
\echo '== 1. Install the extension'
CREATE EXTENSION loyalty;
SELECT extname, extversion FROM pg_extension WHERE extname = 'loyalty';

\echo '== 2. A program: 10 points per complete 100,000 VND, 14-day return window'
SELECT code, name, currency, earn_points, earn_per, rounding, time_zone, return_days
  FROM loyalty.create_program('saigon-coffee', 'Saigon Coffee Rewards', 'VND',
	   earn_points => 10, earn_per => 100000, time_zone => 'Asia/Ho_Chi_Minh',
	   return_days => 14);

\echo 'What purchases earn (250,000 VND earns 20, not 25: only complete blocks count):'
SELECT amount, loyalty.points_for('saigon-coffee', amount) AS points
  FROM (VALUES (45000::numeric), (100000), (250000), (1999000)) AS a(amount);

\echo '== 3. Members, identified by the shop''s own customer ids, with member cards'
SELECT customer_id, card, status, referral_source
  FROM (VALUES (1001, 'store'), (1002, 'facebook'), (1003, 'friend')) AS c(id, source),
	   LATERAL loyalty.enroll('saigon-coffee', c.id, card => loyalty.card_issue('6042'),
							  referral_source => c.source);
\echo 'A card number with a typo is refused by its check digit:'
DO $$
BEGIN
	PERFORM '6042000000000016'::loyalty.card;
EXCEPTION WHEN invalid_text_representation THEN
	RAISE NOTICE '% (SQLSTATE %)', SQLERRM, SQLSTATE;
END
$$;

\echo '== 4. Earning: purchases, a survey, points held during the return window'
SELECT customer_id, entry_no, kind, points, pending_points, reason, reference
  FROM (VALUES
		(1001, loyalty.points_for('saigon-coffee', 250000), 'purchase', 'order-5001'),
		(1001, loyalty.points_for('saigon-coffee', 1200000), 'purchase', 'order-5002'),
		(1002, loyalty.points_for('saigon-coffee', 560000), 'purchase', 'order-5003'),
		(1003, 15, 'completed a survey', 'survey-2026-11')) AS e(id, pts, why, ref),
	   LATERAL loyalty.earn('saigon-coffee', e.id, e.pts, e.why, e.ref,
							idempotency_key => e.ref,
							expires_at => now() + interval '12 months');
SELECT customer_id, entry_no, kind, points, pending_points, reason
  FROM loyalty.earn('saigon-coffee', 1002, 80, 'purchase', 'order-5004',
					idempotency_key => 'order-5004',
					pending_until => now() + interval '14 days');

\echo 'The till retries order-5001 after a timeout: same idempotency key, same entry, no new points:'
SELECT entry_no, kind, points, available_after
  FROM loyalty.earn('saigon-coffee', 1001, 20, 'purchase', 'order-5001',
					idempotency_key => 'order-5001', expires_at => now() + interval '12 months');

\echo '== 5. Redeeming: a free cappuccino for 100 points'
SELECT customer_id, entry_no, kind, points, available_after, reason
  FROM loyalty.redeem('saigon-coffee', 1001, 100, 'free cappuccino', 'reward-77',
					  idempotency_key => 'reward-77');
\echo 'Member 1002 tries to spend points still held in the return window:'
DO $$
BEGIN
	PERFORM loyalty.redeem('saigon-coffee', 1002, 100, 'free cake');
EXCEPTION WHEN SQLSTATE 'LY004' THEN
	RAISE NOTICE '% (SQLSTATE %)', SQLERRM, SQLSTATE;
END
$$;
SELECT customer_id, entry_no, kind, points, available_after, reason
  FROM loyalty.adjust('saigon-coffee', 1003, 5, 'apology for a late order',
					  actor => 'staff:linh');

\echo '== 6. Fourteen days later the held points are released'
SELECT loyalty.release_pending(now() + interval '15 days') AS points_released;

\echo '== 7. Balances'
SELECT program, customer_id, status, available, pending,
	   lifetime_earned, lifetime_redeemed
  FROM loyalty.member_balances ORDER BY customer_id;

\echo '== 8. Member 1001''s statement: every change, with its reason'
SELECT entry_no, kind, points, available_after AS balance, reason, reference, actor
  FROM loyalty.statement('saigon-coffee', 1001);

\echo '== 9. The shop''s own orders table, tracked once'
CREATE TABLE public.orders (
	id			bigint PRIMARY KEY,
	customer_id bigint,
	total		numeric(14, 2) NOT NULL,
	currency	text NOT NULL DEFAULT 'VND',
	channel		text NOT NULL,
	status		text NOT NULL DEFAULT 'paid',
	created_at	timestamptz NOT NULL DEFAULT now()
);
SELECT source_id, table_name, customer_column, order_column, amount_column, channel_column, status_column
  FROM loyalty.track_orders('public.orders', 'saigon-coffee', 'customer_id', 'id', 'total',
	   currency_column => 'currency', channel_column => 'channel',
	   status_column => 'status', ordered_at_column => 'created_at');
\echo 'Earning rules: outlets earn half, a first-purchase bonus, and double points this week:'
SELECT name, kind, channel, multiplier, bonus_points
  FROM (VALUES (1)) v,
	   LATERAL loyalty.add_earn_rule('saigon-coffee', 'outlet stores earn half', 'channel_multiplier',
									 channel => 'outlet', multiplier => 0.5);
SELECT name, kind, channel, multiplier, bonus_points
  FROM loyalty.add_earn_rule('saigon-coffee', 'welcome bonus', 'first_purchase_bonus', bonus_points => 25);
SELECT name, kind, channel, multiplier, bonus_points
  FROM loyalty.add_earn_rule('saigon-coffee', 'double points week', 'campaign_multiplier',
							 multiplier => 2, starts_at => now() - interval '1 day',
							 ends_at => now() + interval '6 days');

\echo 'The application writes orders with plain SQL, knowing nothing of loyalty:'
INSERT INTO orders (id, customer_id, total, channel, created_at) VALUES
	(5101, 1001, 250000, 'online', now() - interval '20 days'),
	(5102, 1002, 250000, 'store', now() - interval '20 days'),
	(5103, 1003, 250000, 'outlet', now() - interval '20 days'),
	(5104, 2001, 400000, 'online', now() - interval '20 days'),	-- a new customer
	(5105, 1001, 600000, 'store', now()),							-- still in its return window
	(5106, NULL, 990000, 'store', now());							-- a guest: no loyalty
UPDATE orders SET status = 'refunded' WHERE id = 5102;			-- the customer returned it
SELECT o.id, o.customer_id, o.channel, o.total, o.status, a.state, a.points AS points_now,
	   a.earned_points
  FROM orders o LEFT JOIN loyalty.order_accrual a ON a.order_key = o.id::text
 ORDER BY o.id;

\echo 'Why each order earned what it did (the ledger explains every entry):'
SELECT l.customer_id, l.reference AS order_id, l.kind, l.points, l.pending_points,
	   (SELECT string_agg(format('%s %s', c->>'points', c->>'rule'), ' + ')
		  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(l.detail) = 'array' THEN l.detail
										 ELSE '[]'::jsonb END) c) AS explained
  FROM loyalty.ledger l
 WHERE l.actor = 'public.orders'
 ORDER BY l.reference, l.entry_no;

\echo '== 10. Balances after the orders'
SELECT program, customer_id, status, available, pending, lifetime_earned, lifetime_redeemed
  FROM loyalty.member_balances ORDER BY customer_id;

\echo '== 11. Expiry: points expire 12 months after they become spendable, at the end of that month'
\echo 'An order''s points wait for the 14-day return window: their 12 months start when it ends.'
SELECT code, expiry_policy, expiry_months, expiry_month_end
  FROM loyalty.set_expiry_policy('saigon-coffee', 'rolling', 12, month_end => true);
INSERT INTO orders (id, customer_id, total, channel) VALUES (5107, 1003, 500000, 'store');
SELECT customer_id, lot_no, points, remaining, expires_at AT TIME ZONE 'Asia/Ho_Chi_Minh' AS expires_local
  FROM loyalty.lot WHERE customer_id = 1003 ORDER BY lot_no;
\echo 'Reminders come first.  Five days before the first of these points lapse (as_of moves the clock forward),'
\echo 'the list a mailer reads: per member and moment, the points that expire within 30 days:'
SELECT customer_id, to_char(expires_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD HH24:MI') AS expires_local, points
  FROM loyalty.expiring_points(within => '30 days', as_of => now() + interval '12 months' - interval '5 days',
							   program => 'saigon-coffee');
\echo 'announce_expiring(), run daily, writes a points_expiring event per member and moment, once per threshold'
\echo '(30, 7 and 1 days before), so running it again writes nothing:'
SELECT loyalty.announce_expiring(as_of => now() + interval '12 months' - interval '5 days') AS events_written;
SELECT loyalty.announce_expiring(as_of => now() + interval '12 months' - interval '5 days') AS "run again";
\echo 'Moving time forward by 14 months (as_of): exactly the lots that were due expire, one entry per member:'
SELECT * FROM loyalty.expire(as_of => now() + interval '14 months');
SELECT * FROM loyalty.expire(as_of => now() + interval '14 months') AS "a second run finds nothing";
SELECT customer_id, kind, points, available_after, reason, detail->>'lots' AS lots
  FROM loyalty.ledger WHERE kind = 'expire' ORDER BY customer_id;

\echo '== 12. Tiers: Silver, Gold and Diamond by spend over the last 12 months; higher tiers earn faster'
SELECT code, tier_basis, tier_period, tier_months, tier_grace_days
  FROM loyalty.set_tier_policy('saigon-coffee', 'spend', 'rolling', months => 12, grace_days => 30);
SELECT t.code, t.name, t.threshold AS spend_vnd, r.name AS earn_rule
  FROM (VALUES ('silver', 'Silver', 500000, 1.2), ('gold', 'Gold', 2000000, 1.5),
			   ('diamond', 'Diamond', 5000000, 2)) AS v(code, name, threshold, multiplier),
	   LATERAL loyalty.set_tier('saigon-coffee', v.code, v.name, v.threshold) t,
	   LATERAL loyalty.add_earn_rule('saigon-coffee', format('%s earns x%s', v.name, v.multiplier),
									 'tier_multiplier', tier => v.code, multiplier => v.multiplier) r;
\echo 'New thresholds move members at their next order or at evaluate_tiers() (monthly, e.g. from pg_cron).'
\echo 'Run it now: 1001 (850,000 VND in 12 months) and 1003 (750,000) reach Silver:'
SELECT * FROM loyalty.evaluate_tiers();
\echo 'Member 1001 before the next order (spend in VND):'
SELECT tier, next_tier, qualifying, next_threshold, still_needed, percent
  FROM loyalty.tier_progress('saigon-coffee', 1001);
\echo 'The shop inserts a 1,500,000 VND order with plain SQL; in that same transaction 1001 moves up to Gold:'
INSERT INTO orders (id, customer_id, total, channel) VALUES (5108, 1001, 1500000, 'store');
SELECT tier, next_tier, qualifying, next_threshold, still_needed, percent
  FROM loyalty.tier_progress('saigon-coffee', 1001);
\echo 'The order earned at Silver, the tier 1001 held before it (the next order earns at Gold):'
SELECT l.customer_id, l.reference AS order_id, l.points, l.pending_points,
	   (SELECT string_agg(format('%s %s', c->>'points', c->>'rule'), ' + ')
		  FROM jsonb_array_elements(l.detail) c) AS explained
  FROM loyalty.ledger l
 WHERE l.reference = '5108';

\echo '== 13. Events: what the application turns into e-mails and push messages'
\echo 'The outbox holds the reminders, expiries and tier changes above, each written in the transaction of its change:'
SELECT event_id, customer_id, kind,
	   CASE kind
		   WHEN 'tier_changed' THEN format('%s -> %s (%s)', COALESCE(payload->>'from', 'none'),
										   COALESCE(payload->>'to', 'none'), payload->>'reason')
		   WHEN 'points_expiring' THEN format('%s points on %s, %s-day reminder', payload->>'points',
				to_char((payload->>'expires_at')::timestamptz AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD'),
				payload->>'days_before')
		   WHEN 'points_expired' THEN format('%s points from %s lot%s, as of %s', payload->>'points',
				payload->>'lots', CASE WHEN payload->>'lots' = '1' THEN '' ELSE 's' END,
				to_char((payload->>'as_of')::timestamptz AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD'))
	   END AS what
  FROM loyalty.read_events(max_events => 100);
\echo 'The mailer sends them, then acknowledges them; acknowledged events are not read again:'
SELECT loyalty.ack_events(array_agg(event_id), acked_by => 'mailer') AS acknowledged
  FROM loyalty.read_events(max_events => 100);
SELECT count(*) AS still_open FROM loyalty.read_events();

\echo '== 14. Tier distribution: how many members sit in each tier (a view for BI)'
SELECT d.program, d.tier, d.members, d.share
  FROM loyalty.tier_distribution d
  LEFT JOIN loyalty.tier t ON t.code = d.tier
 ORDER BY t.threshold NULLS FIRST;

\echo '== 15. A year on: evaluate_tiers(as_of) moves members down, one tier at a time, after the grace'
\echo '13 months later nobody has spent in the last 12 months.  Gold falls to Silver, not further; Silver to none:'
SELECT * FROM loyalty.evaluate_tiers(as_of => now() + interval '13 months');
SELECT customer_id, COALESCE(payload->>'from', 'none') AS "from", COALESCE(payload->>'to', 'none') AS "to",
	   payload->>'reason' AS reason
  FROM loyalty.read_events(kinds => '{tier_changed}');
SELECT d.program, d.tier, d.members, d.share
  FROM loyalty.tier_distribution d
  LEFT JOIN loyalty.tier t ON t.code = d.tier
 ORDER BY t.threshold NULLS FIRST;

\echo '== 16. Fraud checks: one account, 30 orders in 10 minutes'
\echo 'The program holds the points of every order above 20 in an hour, and refuses a'
\echo 'redemption within 24 hours of enrolling or of a change of e-mail, phone or card:'
SELECT check_name, action, threshold, within
  FROM loyalty.set_fraud_check('saigon-coffee', 'order_velocity', 'hold', 20);
SELECT check_name, action, threshold, within
  FROM loyalty.set_fraud_check('saigon-coffee', 'account_takeover', 'reject');
SELECT customer_id FROM loyalty.enroll('saigon-coffee', 3001);
INSERT INTO orders (id, customer_id, total, channel, created_at)
SELECT 6000 + g, 3001, 100000 + 1000 * g, 'online', now() - interval '10 minutes' + g * interval '20 seconds'
  FROM generate_series(1, 30) g;
\echo 'The shop''s INSERT went through.  Orders 21 to 30 are held: pending, with no release time:'
SELECT available, pending FROM loyalty.balance('saigon-coffee', 3001);
SELECT count(*) AS held_lots, sum(remaining) AS held_points
  FROM loyalty.lot WHERE customer_id = 3001 AND pending AND available_at IS NULL;
\echo 'The review queue, oldest first:'
SELECT program, customer_id, flag_no, check_name, action, measured, threshold, reference, held_points
  FROM loyalty.fraud_queue WHERE customer_id = 3001 LIMIT 3;
\echo 'The outbox tells the application (one fraud_flagged event per flag):'
SELECT kind, payload FROM loyalty.event
 WHERE kind = 'fraud_flagged' AND customer_id = 3001 ORDER BY event_id LIMIT 1;
\echo 'The return-window release a month from now releases the other orders, not the held ones:'
SELECT loyalty.release_pending(now() + interval '30 days') > 0 AS released_some;
SELECT available, pending FROM loyalty.balance('saigon-coffee', 3001);
\echo 'The same account redeems an hour after enrolling: refused (LY011), nothing changes:'
UPDATE loyalty.member SET enrolled_at = now() - interval '1 hour' WHERE customer_id = 3001;
DO $$
BEGIN
	PERFORM loyalty.redeem('saigon-coffee', 3001, 50);
EXCEPTION WHEN SQLSTATE 'LY011' THEN
	RAISE NOTICE 'redeem refused: % (%)', SQLERRM, SQLSTATE;
END
$$;
\echo 'A reviewer decides: the party order is released, the rest of the burst voided:'
SELECT flag_no, status, reviewed_by, review_note
  FROM loyalty.review('saigon-coffee', 3001, 1, 'release', 'office party, called the customer', 'thao.nguyen');
SELECT f.flag_no, r.status
  FROM loyalty.fraud_flag f,
	   LATERAL loyalty.review('saigon-coffee', 3001, f.flag_no, 'void', 'card testing burst', 'thao.nguyen') r
 WHERE f.customer_id = 3001 AND f.status = 'open' ORDER BY f.flag_no;
\echo 'Every decision is a ledger entry with the reviewer and the note:'
SELECT entry_no, kind, points, pending_points, actor, reason
  FROM loyalty.ledger WHERE customer_id = 3001 AND reason LIKE 'fraud review:%'
 ORDER BY entry_no LIMIT 3;
\echo 'The released order is still in its 14-day return window: its points stay pending'
\echo 'until the regular release; the voided ones are gone:'
SELECT available, pending FROM loyalty.balance('saigon-coffee', 3001);
SELECT r.order_key, r.points, r.held, r.voided_at IS NOT NULL AS voided
  FROM loyalty.order_accrual r
 WHERE r.customer_id = 3001 AND r.program_id = loyalty.program_id('saigon-coffee')
 ORDER BY r.created_at, r.order_key LIMIT 4;

\echo '== 17. Business views for BI: liability, effectiveness, tier distribution'
\echo 'One point costs the chain 100 VND when redeemed (a 1% return on "10 points per 100,000 VND"):'
SELECT code, point_value FROM loyalty.set_point_value('saigon-coffee', 100);
\echo 'Liability: the points members hold, by when they expire, their cost, and breakage:'
SELECT program, currency, outstanding, pending, due, within_30d, within_90d, within_365d, later, never,
	   debt, outstanding_value, breakage, breakage_12m
  FROM loyalty.liability;
\echo 'Effectiveness: orders and spend per member-month in the 6 months before and after enrolling'
\echo '(counted over members enrolled at least 6 months ago: none yet in a demo that starts today):'
SELECT * FROM loyalty.effectiveness;
\echo 'Retention by enrolment month (NULL until the cohort has been members that long):'
SELECT * FROM loyalty.retention;
\echo 'Tier distribution:'
SELECT d.program, d.tier, d.members, d.share
  FROM loyalty.tier_distribution d
  LEFT JOIN loyalty.tier t ON t.code = d.tier
 ORDER BY t.threshold NULLS FIRST;

\echo '== 18. verify(): members whose stored balance disagrees with the ledger (none)'
SELECT * FROM loyalty.verify();
SELECT CASE WHEN count(*) = 0 THEN 'ledger verified: every balance equals its ledger'
			ELSE 'LEDGER MISMATCH' END AS verify
  FROM loyalty.verify();
