--
-- Accrual problems new in 0.3.0.  The same statements serve a fresh install
-- and the update from 0.2.0.
--
-- points_overflow: the order's points would take the member's balance
-- (available + pending), pending points or lifetime earned points past the
-- largest number of points (9223372036854775807), or its amount alone earns
-- more than that.  The order path records the order here and credits
-- nothing for it (src/accrual.c, EarnFits); the shop's write goes through.
-- earn() and adjust() raise 22003 instead.
--
-- qualifying_overflow: what the order counts toward the member's tier
-- cannot be counted: on the spend basis its net amount in minor units of
-- the program currency passes the largest bigint, or it would take the
-- member's qualifying total past it (src/tier.c, LoyaltyOrderQualifyingFits
-- and LoyaltyTierFits).  Recorded the same way, nothing credited.
--
ALTER TABLE @extschema@.accrual_problem
	DROP CONSTRAINT accrual_problem_problem_check,
	ADD CONSTRAINT accrual_problem_problem_check CHECK (problem IN ('unknown_customer',
		'member_not_active', 'currency_without_rate', 'invalid_amount', 'missing_order_key',
		'points_overflow', 'qualifying_overflow'));

-- Points forgiven per order (new in 0.3.0).  Under negative_balance
-- 'forgive' a refund or delete of an order whose points the member had
-- spent takes what is left and forgives the rest.  The order keeps the
-- points forgiven, and its next earning (the refund undone, a raise, the
-- order inserted again after its delete) cancels them first, so an order
-- nets its points once, as under 'debt' (src/accrual.c, ProcessOrder).
ALTER TABLE @extschema@.order_accrual
	ADD COLUMN forgiven bigint NOT NULL DEFAULT 0 CHECK (forgiven >= 0);
COMMENT ON COLUMN @extschema@.order_accrual.forgiven IS
	'points of the order that a refund or delete forgave (negative_balance forgive) and that no later earning of it has cancelled; its next earning pays only what exceeds them';
