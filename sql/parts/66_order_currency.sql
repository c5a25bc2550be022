--
-- The currency an order is priced in (new in 0.3.0; the same statements
-- serve a fresh install and the update from 0.2.0).  A tracked order keeps
-- the exchange rate it was first converted at, so that its later changes
-- are priced in its own currency: a refund of 40 of 100 USD keeps 60 % of
-- its points whatever rate was set for its time since, and a raise is
-- converted at the same rate (src/accrual.c, ProcessOrder).  An order in
-- the program currency has that currency and rate 1.  NULL: recorded
-- before the update, priced as before (its amounts converted again at each
-- change by the rate valid at its time).
--
ALTER TABLE @extschema@.order_accrual
	ADD COLUMN currency text,
	ADD COLUMN rate numeric CHECK (rate > 0);
COMMENT ON COLUMN @extschema@.order_accrual.currency IS
	'the order''s currency (upper case) its rate is for: as first recorded, or as the shop last changed it to; NULL: recorded before 0.3.0';
COMMENT ON COLUMN @extschema@.order_accrual.rate IS
	'units of the program currency per unit of the order''s currency the order is priced at: every later change of its amounts is converted at it; 1 in the program currency; NULL: recorded before 0.3.0';
