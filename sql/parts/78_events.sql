--
-- Events (new in 0.3.0): an outbox the application turns into e-mails, SMS or
-- push messages.  The engine writes an event in the same transaction as the
-- change it reports, so an event exists exactly when its change committed; a
-- statement-level trigger announces new events with NOTIFY loyalty_events,
-- delivered at commit.  The application reads open events with
-- read_events(), sends its messages, and acknowledges them with ack_events():
-- at-least-once delivery, so a consumer makes its sending idempotent by
-- event_id.  The same statements serve a fresh install and the update from
-- 0.2.0.
--

CREATE SEQUENCE @extschema@.event_id_seq AS bigint;
COMMENT ON SEQUENCE @extschema@.event_id_seq IS 'ids of loyalty events';

-- Member-scoped: customer_id is the member key, kept on every event so the
-- table can be distributed by member like the others.  No foreign keys: an
-- event is written on the order path (a tier change), where a key check per
-- row would lock the program row in every transaction.
CREATE TABLE @extschema@.event (
	event_id	bigint PRIMARY KEY
				DEFAULT pg_catalog.nextval('@extschema@.event_id_seq'),
	program_id	integer NOT NULL,
	customer_id bigint NOT NULL,
	kind		text NOT NULL
				CHECK (kind IN ('tier_changed', 'points_expiring', 'points_expired', 'fraud_flagged')),
	payload		jsonb NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	acked_at	timestamptz,
	acked_by	text,
	CONSTRAINT event_ack_complete CHECK ((acked_at IS NULL) = (acked_by IS NULL))
);
ALTER SEQUENCE @extschema@.event_id_seq OWNED BY @extschema@.event.event_id;
-- What read_events() and ack_events() look at: the open events only, so the
-- index stays small however many acknowledged events are kept.
CREATE INDEX event_open_idx ON @extschema@.event (event_id) WHERE acked_at IS NULL;

COMMENT ON TABLE @extschema@.event IS
	'outbox of events for the application (tier changes, points expiring or expired, fraud flags), written in the transaction of the change; read with read_events(), acknowledge with ack_events()';
COMMENT ON COLUMN @extschema@.event.event_id IS
	'increasing id; a transaction that started earlier may commit a lower id later, so page with after_id but track delivery by acknowledging';
COMMENT ON COLUMN @extschema@.event.program_id IS 'the member''s program (loyalty.program)';
COMMENT ON COLUMN @extschema@.event.customer_id IS 'the member: the application''s own customer key';
COMMENT ON COLUMN @extschema@.event.kind IS 'tier_changed, points_expiring, points_expired or fraud_flagged';
COMMENT ON COLUMN @extschema@.event.payload IS
	'what happened, as a JSON object; points_expiring: {"expires_at", "points", "days_before"}; points_expired: {"points", "lots", "as_of", "reason"}';
COMMENT ON COLUMN @extschema@.event.created_at IS 'start of the transaction that wrote the event';
COMMENT ON COLUMN @extschema@.event.acked_at IS 'when a consumer acknowledged the event; NULL while it is open';
COMMENT ON COLUMN @extschema@.event.acked_by IS 'who acknowledged it: the consumer''s name, or its database role';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event', '');

-- NOTIFY loyalty_events once per statement that wrote events.  The payload is
-- the codes of the programs the events belong to, sorted and comma-separated
-- ("shop-vn,shop-eu"), or "*" when that would be longer than 1000 bytes:
-- small, and identical for the statements of one transaction that write
-- events of the same programs, so PostgreSQL delivers it once.
CREATE FUNCTION @extschema@.event_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	codes		text;
BEGIN
	SELECT pg_catalog.string_agg(COALESCE(p.code, '*'), ',' ORDER BY p.code)
	  INTO codes
	  FROM (SELECT DISTINCT n.program_id FROM new_events n) e
	  LEFT JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) e.program_id;
	IF codes IS NULL THEN
		RETURN NULL;			-- the statement wrote no event
	END IF;
	IF pg_catalog.octet_length(codes) OPERATOR(pg_catalog.>) 1000 THEN
		codes := '*';
	END IF;
	PERFORM pg_catalog.pg_notify('loyalty_events', codes);
	RETURN NULL;
END
$$;
CREATE TRIGGER event_notify AFTER INSERT ON @extschema@.event
	REFERENCING NEW TABLE AS new_events
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.event_notify();

-- Write one event; returns its event_id.  For the engine (the C entry point
-- is LoyaltyEmitEvent in src/events.c): granted to no one.
CREATE FUNCTION @extschema@.emit_event(program_id integer, customer_id bigint,
	kind text, payload jsonb)
RETURNS bigint
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'loyalty_emit_event';

-- Open events after after_id, oldest first, at most max_events, optionally
-- only some kinds.
CREATE FUNCTION @extschema@.read_events(after_id bigint DEFAULT 0,
	max_events integer DEFAULT 100, kinds text[] DEFAULT NULL)
RETURNS TABLE (event_id bigint, program text, customer_id bigint, kind text,
	payload jsonb, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bad			text;
BEGIN
	IF read_events.after_id IS NULL THEN
		RAISE EXCEPTION 'after_id must not be null' USING ERRCODE = '22004',
			HINT = 'Pass 0 to read from the oldest open event.';
	END IF;
	IF read_events.max_events IS NULL THEN
		RAISE EXCEPTION 'max_events must not be null' USING ERRCODE = '22004',
			HINT = 'Pass a batch size from 1 to 10000, e.g. 100.';
	END IF;
	IF read_events.max_events OPERATOR(pg_catalog.<) 1
		OR read_events.max_events OPERATOR(pg_catalog.>) 10000 THEN
		RAISE EXCEPTION 'max_events must be between 1 and 10000'
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Got %s.', read_events.max_events),
				  HINT = 'Read a longer backlog in batches, passing the last event_id read as after_id.';
	END IF;
	SELECT COALESCE(pg_catalog.quote_literal(k), 'NULL') INTO bad
	  FROM pg_catalog.unnest(read_events.kinds) k
	 WHERE k IS NULL
		OR k OPERATOR(pg_catalog.<>) ALL (ARRAY['tier_changed', 'points_expiring', 'points_expired', 'fraud_flagged'])
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'unknown event kind %', bad USING ERRCODE = '22023',
			HINT = 'Use tier_changed, points_expiring, points_expired or fraud_flagged, or pass NULL for every kind.';
	END IF;

	RETURN QUERY
		SELECT e.event_id, p.code, e.customer_id, e.kind, e.payload, e.created_at
		  FROM @extschema@.event e
		  LEFT JOIN @extschema@.program p ON p.program_id OPERATOR(pg_catalog.=) e.program_id
		 WHERE e.acked_at IS NULL
		   AND e.event_id OPERATOR(pg_catalog.>) read_events.after_id
		   AND (read_events.kinds IS NULL
				OR e.kind OPERATOR(pg_catalog.=) ANY (read_events.kinds))
		 ORDER BY e.event_id
		 LIMIT read_events.max_events;
END
$$;

-- Acknowledge events; returns how many were open and are now acknowledged.
-- Rows are locked in event_id order, so consumers acknowledging overlapping
-- sets never deadlock; one that waited for another's acknowledgement of the
-- same event finds it acknowledged and does not count it (READ COMMITTED).
CREATE FUNCTION @extschema@.ack_events(event_ids bigint[], acked_by text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	who			text := COALESCE(ack_events.acked_by, SESSION_USER::text);
	n			bigint;
BEGIN
	IF ack_events.event_ids IS NULL THEN
		RAISE EXCEPTION 'event_ids must not be null' USING ERRCODE = '22004',
			HINT = 'Pass the event_id values read_events() returned; an empty array acknowledges nothing.';
	END IF;
	IF pg_catalog.btrim(who, E' \t\r\n') OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'acked_by must not be empty' USING ERRCODE = '22023',
			DETAIL = 'It is empty or only white space.',
			HINT = 'Name the consumer, e.g. ''mailer'', or pass NULL to record the database role.';
	END IF;
	IF pg_catalog.octet_length(who) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'acked_by is too long' USING ERRCODE = '22001',
			DETAIL = pg_catalog.format('It has %s bytes; the limit is 200.', pg_catalog.octet_length(who));
	END IF;

	WITH open_events AS (
		SELECT e.event_id FROM @extschema@.event e
		 WHERE e.event_id OPERATOR(pg_catalog.=) ANY (ack_events.event_ids)
		   AND e.acked_at IS NULL
		 ORDER BY e.event_id
		   FOR UPDATE
	)
	UPDATE @extschema@.event e SET acked_at = pg_catalog.now(), acked_by = who
	  FROM open_events o
	 WHERE e.event_id OPERATOR(pg_catalog.=) o.event_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

-- Delete events acknowledged before a time; open events are never deleted.
-- Returns how many were deleted.
CREATE FUNCTION @extschema@.purge_events(acked_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n			bigint;
BEGIN
	IF purge_events.acked_before IS NULL THEN
		RAISE EXCEPTION 'acked_before must not be null' USING ERRCODE = '22004',
			HINT = 'Pass a time, e.g. now() - interval ''30 days''.';
	END IF;
	DELETE FROM @extschema@.event e
	 WHERE e.acked_at IS NOT NULL
	   AND e.acked_at OPERATOR(pg_catalog.<) purge_events.acked_before;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

COMMENT ON FUNCTION @extschema@.event_notify()
	IS 'internal: NOTIFY loyalty_events once per statement that wrote events, with the program codes as payload';
COMMENT ON FUNCTION @extschema@.emit_event(integer, bigint, text, jsonb)
	IS 'internal: write one event for the engine and return its event_id';
COMMENT ON FUNCTION @extschema@.read_events(bigint, integer, text[])
	IS 'open (unacknowledged) events with event_id > after_id, oldest first, at most max_events (1 to 10000), optionally only the given kinds';
COMMENT ON FUNCTION @extschema@.ack_events(bigint[], text)
	IS 'acknowledge events (acked_by defaults to the session user); returns how many were open; repeating it or unknown ids change nothing';
COMMENT ON FUNCTION @extschema@.purge_events(timestamptz)
	IS 'delete events acknowledged before acked_before; open events are kept; returns how many were deleted';

REVOKE ALL ON FUNCTION
	@extschema@.event_notify(),
	@extschema@.emit_event(integer, bigint, text, jsonb),
	@extschema@.read_events(bigint, integer, text[]),
	@extschema@.ack_events(bigint[], text),
	@extschema@.purge_events(timestamptz)
FROM PUBLIC;
