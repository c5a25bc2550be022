--
-- Automatic accrual from the application's own orders table (see
-- doc/accrual.md).  The C statement triggers created by track_orders() keep
-- one row per order here and write every change of an order's points to the
-- ledger.
--

-- What each tracked order has earned: member-scoped, one row per order.
CREATE TABLE @extschema@.order_accrual (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	source_id	integer NOT NULL,	-- the tracked table (loyalty.order_source)
	order_key	text NOT NULL,
	state		text NOT NULL CHECK (state IN ('active', 'reversed', 'deleted')),
	amount		numeric NOT NULL CHECK (amount >= 0),	-- in the program currency, when first earned
	net_amount	numeric NOT NULL CHECK (net_amount >= 0),	-- amount less refunds, now
	points		bigint NOT NULL CHECK (points >= 0),	-- points the order holds now
	earned_points bigint NOT NULL CHECK (earned_points >= 0),	-- points when first earned
	first_purchase boolean NOT NULL,
	channel		text,
	category	text,
	ordered_at	timestamptz NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	lot_no		bigint,			-- the lot that received the order's points, if any
	PRIMARY KEY (customer_id, program_id, source_id, order_key)
);
CREATE TRIGGER order_accrual_no_truncate BEFORE TRUNCATE ON @extschema@.order_accrual
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_immutable();
COMMENT ON TABLE @extschema@.order_accrual IS 'per tracked order: the points it holds now and what it first earned';

-- Orders the engine could not credit, and why.  The shop's write never fails
-- for these; staff read them here.
CREATE TABLE @extschema@.accrual_problem (
	customer_id bigint NOT NULL,
	program_id	integer NOT NULL,
	source_id	integer NOT NULL,
	order_key	text NOT NULL,
	problem		text NOT NULL CHECK (problem IN ('unknown_customer', 'member_not_active',
				'currency_without_rate', 'invalid_amount', 'missing_order_key')),
	detail		text,
	occurrences integer NOT NULL DEFAULT 1,
	first_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	last_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (customer_id, program_id, source_id, order_key, problem)
);
COMMENT ON TABLE @extschema@.accrual_problem IS 'orders that earned nothing because of a loyalty-side problem, with the reason';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_accrual', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.accrual_problem', '');

-- The statement trigger track_orders() attaches to an orders table.
CREATE FUNCTION @extschema@.order_trigger() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'loyalty_order_trigger';
COMMENT ON FUNCTION @extschema@.order_trigger()
	IS 'internal: the accrual trigger track_orders() attaches to an orders table';
