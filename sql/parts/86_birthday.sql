--
-- Birthday bonus state (new in 0.3.0).  The same statements serve a fresh
-- install and the update from 0.2.0.
--
-- A member earns the program's birthday bonuses at most once a year: on the
-- first order recorded in their birthday month (program time zone) that the
-- rules price with the bonus, the year being the local calendar year of that
-- order.  A bonus the order cap cuts away entirely is not priced in (it
-- would pay nothing: src/rules.c, step e), so such an order leaves the year
-- free; one the cap cuts partly uses it.  The order paths (src/accrual.c) keep the latest year paid in the
-- account row they already lock and rewrite, and mark the order that got it,
-- so that a later change of its amount is priced with the bonus it had (and
-- only that one).  Changing the birthday does not make a year's bonus
-- payable again; a refund of the order that got it gives its points back
-- (bonus included) and leaves the year used.
--
ALTER TABLE @extschema@.account
	ADD COLUMN birthday_bonus_year integer;
COMMENT ON COLUMN @extschema@.account.birthday_bonus_year IS
	'the latest local calendar year whose birthday bonus the member earned; an order of that year or an earlier one gets none; NULL: never';

ALTER TABLE @extschema@.order_accrual
	ADD COLUMN birthday_bonus boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN @extschema@.order_accrual.birthday_bonus IS
	'the order earned its year''s birthday bonus; a change of its amount is priced with it';
