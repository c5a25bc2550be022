-- The GRANTs for the three kinds of role that use loyalty (see README.md).
-- The extension creates no roles and grants nothing to PUBLIC; a DBA creates
-- the roles and runs this file, e.g.:
--   CREATE ROLE loyalty_app NOLOGIN;  CREATE ROLE loyalty_bi NOLOGIN;
--   CREATE ROLE loyalty_admin NOLOGIN;
--   \i doc/grants.sql
-- then grants those roles to login roles (GRANT loyalty_app TO shop_backend).

-- Application writer: enrolls members, earns, redeems, reads balances,
-- statements, a member's expiring points and tier progress, sells paid
-- tiers, and consumes the events outbox.  No table access: the functions
-- check and write everything.
GRANT USAGE ON SCHEMA loyalty TO loyalty_app;
GRANT EXECUTE ON FUNCTION
	loyalty.enroll(text, bigint, loyalty.card, date, text, bigint),
	loyalty.update_member(text, bigint, loyalty.card, date, text),
	loyalty.earn(text, bigint, bigint, text, text, text, timestamptz, timestamptz, text),
	loyalty.redeem(text, bigint, bigint, text, text, text, text),
	loyalty.balance(text, bigint),
	loyalty.statement(text, bigint, timestamptz, timestamptz),
	loyalty.points_for(text, numeric),
	loyalty.quote(text, numeric, text, text, timestamptz, text, date, boolean),
	loyalty.expiring_points(text, bigint, interval, timestamptz),
	loyalty.read_events(bigint, integer, text[]),
	loyalty.ack_events(bigint[], text),
	loyalty.tier_progress(text, bigint),
	loyalty.grant_tier(text, bigint, text, timestamptz, text)
TO loyalty_app;

-- BI reader: the documented views and expiring points per member; no
-- personal data, no way to change points.
GRANT USAGE ON SCHEMA loyalty TO loyalty_bi;
GRANT SELECT ON loyalty.member_balances, loyalty.currency, loyalty.tier_distribution TO loyalty_bi;
GRANT EXECUTE ON FUNCTION loyalty.expiring_points(interval, timestamptz, text) TO loyalty_bi;

-- Administrator: everything the application can do, plus programs, member
-- status, staff adjustments, card issuing, maintenance (release_pending,
-- announce_expiring, purge_events, e.g. from pg_cron), verification, and
-- read access to every table for support.
GRANT loyalty_app TO loyalty_admin;
GRANT loyalty_bi TO loyalty_admin;
GRANT EXECUTE ON FUNCTION
	loyalty.create_program(text, text, text, bigint, numeric, text, text, integer, text, text),
	loyalty.alter_program(text, text, text, bigint, numeric, text, text, integer, text, text),
	loyalty.set_member_status(text, bigint, text),
	loyalty.adjust(text, bigint, bigint, text, text, text, timestamptz, text),
	loyalty.card_issue(text),
	loyalty.add_earn_rule(text, text, text, text, text, text, numeric, bigint, numeric, bigint,
		timestamptz, timestamptz, smallint[]),
	loyalty.drop_earn_rule(text, text),
	loyalty.release_pending(timestamptz, integer),
	loyalty.verify(),
	loyalty.announce_expiring(timestamptz, integer[]),
	loyalty.purge_events(timestamptz)
TO loyalty_admin;
-- Attaching the engine to an orders table: the administrator also needs
-- TRIGGER on that table (CREATE TRIGGER checks it) and, to untrack, ownership.
GRANT EXECUTE ON FUNCTION
	loyalty.track_orders(regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	loyalty.untrack_orders(regclass),
	loyalty.reserve_order_source(regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	loyalty.register_order_source(integer, regclass, text, name, name, name, name, name, name, name, name, name, text[]),
	loyalty.unregister_order_source(regclass, integer[]),
	loyalty.forget_order_history(text, text),
	loyalty.order_trigger(),
	loyalty.set_exchange_rate(text, text, numeric, timestamptz),
	loyalty.convert_amount(numeric, text, text, timestamptz)
TO loyalty_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA loyalty TO loyalty_admin;

-- Expiry (0.3.0): the administrator sets policies and runs expiry; the
-- procedure runs as its caller, who needs expire() too.
GRANT EXECUTE ON FUNCTION
	loyalty.set_expiry_policy(text, text, integer, boolean),
	loyalty.expire(timestamptz, integer, integer)
TO loyalty_admin;
GRANT EXECUTE ON PROCEDURE loyalty.expire_in_batches(timestamptz, integer) TO loyalty_admin;
-- The procedure runs as its caller and commits between batches, so it calls
-- expire()'s steps itself.
GRANT EXECUTE ON FUNCTION
	loyalty.check_as_of(timestamptz, text),
	loyalty.check_expire_args(timestamptz, integer, integer),
	loyalty.expire_candidates(timestamptz, integer),
	loyalty.expire_batch(bigint[], integer[], timestamptz)
TO loyalty_admin;

-- Tiers (0.3.0): the administrator defines them and runs the periodic
-- evaluation; the application shows progress and sells paid tiers (above).
GRANT EXECUTE ON FUNCTION
	loyalty.set_tier_policy(text, text, text, integer, integer),
	loyalty.set_tier(text, text, text, numeric),
	loyalty.drop_tier(text, text),
	loyalty.evaluate_tiers(timestamptz)
TO loyalty_admin;

-- Fraud checks (0.3.0): the application keeps members' e-mail and phone (as
-- hashes); the administrator turns checks on and reviews flags; BI reads
-- the review queue (no hashes, no personal data).
GRANT EXECUTE ON FUNCTION loyalty.set_identity(text, bigint, text, text) TO loyalty_app;
GRANT EXECUTE ON FUNCTION
	loyalty.set_fraud_check(text, text, text, bigint, bigint, interval),
	loyalty.review(text, bigint, bigint, text, text, text)
TO loyalty_admin;
GRANT SELECT ON loyalty.fraud_queue, loyalty.fraud_check_kind TO loyalty_bi;

-- Business views (0.3.0): BI reads them (no card, birthday, e-mail or phone
-- hash: a member is the application's customer key); the administrator sets
-- what a point costs for the liability view.
GRANT SELECT ON loyalty.member_summary, loyalty.points_flow, loyalty.liability,
	loyalty.member_effectiveness, loyalty.effectiveness, loyalty.retention,
	loyalty.category_affinity
TO loyalty_bi;
GRANT EXECUTE ON FUNCTION loyalty.set_point_value(text, numeric) TO loyalty_admin;

-- Materialized business views (0.3.0): BI reads them; the administrator
-- (or a pg_cron job run as the administrator) refreshes them.
GRANT SELECT ON loyalty.points_flow_mv, loyalty.liability_mv, loyalty.effectiveness_mv,
	loyalty.retention_mv, loyalty.tier_distribution_mv, loyalty.member_effectiveness_mv,
	loyalty.category_affinity_mv
TO loyalty_bi;
GRANT EXECUTE ON FUNCTION loyalty.refresh_business_views(text) TO loyalty_admin;
