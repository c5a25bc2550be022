--
-- Members: enrolment, profile and status.
--

-- Enroll a customer in a program; enrolling again returns the existing member unchanged.
CREATE FUNCTION @extschema@.enroll(
	program text, customer_id bigint, card @extschema@.card DEFAULT NULL,
	birthday date DEFAULT NULL, referral_source text DEFAULT NULL,
	referred_by bigint DEFAULT NULL)
RETURNS @extschema@.member
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(enroll.program);
	result		@extschema@.member;
BEGIN
	IF enroll.customer_id IS NULL THEN
		RAISE EXCEPTION 'customer_id must not be null' USING ERRCODE = '22004';
	END IF;
	IF enroll.birthday IS NOT NULL AND enroll.birthday OPERATOR(pg_catalog.>) CURRENT_DATE THEN
		RAISE EXCEPTION 'birthday must not be in the future'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', enroll.birthday);
	END IF;
	IF enroll.birthday IS NOT NULL AND enroll.birthday OPERATOR(pg_catalog.<=) DATE '1900-01-01' THEN
		RAISE EXCEPTION 'birthday must be after 1900-01-01'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', enroll.birthday),
				  HINT = 'Leave the birthday NULL when it is not known.';
	END IF;
	IF enroll.referral_source IS NOT NULL AND pg_catalog.octet_length(enroll.referral_source) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'referral_source is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;
	IF enroll.referred_by IS NOT NULL THEN
		IF enroll.referred_by OPERATOR(pg_catalog.=) enroll.customer_id THEN
			RAISE EXCEPTION 'a member cannot refer themselves' USING ERRCODE = '22023';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM @extschema@.member m
						WHERE m.customer_id OPERATOR(pg_catalog.=) enroll.referred_by
						  AND m.program_id OPERATOR(pg_catalog.=) pid) THEN
			RAISE EXCEPTION 'unknown referrer % in program "%"', enroll.referred_by, enroll.program
				USING ERRCODE = 'LY002', HINT = 'The referrer must be a member of the same program.';
		END IF;
	END IF;

	INSERT INTO @extschema@.member AS m (customer_id, program_id, card, birthday,
		referral_source, referred_by)
	VALUES (enroll.customer_id, pid, enroll.card, enroll.birthday,
		enroll.referral_source, enroll.referred_by)
	ON CONFLICT ON CONSTRAINT member_pkey DO NOTHING
	RETURNING m.* INTO result;
	IF FOUND THEN
		INSERT INTO @extschema@.account (customer_id, program_id)
		VALUES (enroll.customer_id, pid);
	ELSE
		SELECT m.* INTO result FROM @extschema@.member m
		 WHERE m.customer_id OPERATOR(pg_catalog.=) enroll.customer_id
		   AND m.program_id OPERATOR(pg_catalog.=) pid;
	END IF;
	RETURN result;
END
$$;

-- Return a member row for update, or raise unknown member.  Takes the
-- member's account row first, as the order path and every balance change do
-- (account, then member): the identity checks number their flags on the
-- account row, which after the member row would deadlock with an order
-- (test/specs/identity_race.spec).
CREATE FUNCTION @extschema@.lock_member(program text, customer_id bigint)
RETURNS @extschema@.member
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pid			integer := @extschema@.program_id(lock_member.program);
	result		@extschema@.member;
BEGIN
	IF lock_member.customer_id IS NULL THEN
		RAISE EXCEPTION 'customer_id must not be null' USING ERRCODE = '22004';
	END IF;
	PERFORM FROM @extschema@.account a
	 WHERE a.customer_id OPERATOR(pg_catalog.=) lock_member.customer_id
	   AND a.program_id OPERATOR(pg_catalog.=) pid
	   FOR NO KEY UPDATE;
	SELECT m.* INTO result FROM @extschema@.member m
	 WHERE m.customer_id OPERATOR(pg_catalog.=) lock_member.customer_id
	   AND m.program_id OPERATOR(pg_catalog.=) pid
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown member % in program "%"', lock_member.customer_id, lock_member.program
			USING ERRCODE = 'LY002', HINT = 'Enroll the customer first with loyalty.enroll().';
	END IF;
	RETURN result;
END
$$;

-- Change a member's card, birthday or referral source; NULL leaves a field unchanged.
CREATE FUNCTION @extschema@.update_member(
	program text, customer_id bigint, card @extschema@.card DEFAULT NULL,
	birthday date DEFAULT NULL, referral_source text DEFAULT NULL)
RETURNS @extschema@.member
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	existing	@extschema@.member := @extschema@.lock_member(update_member.program, update_member.customer_id);
	result		@extschema@.member;
BEGIN
	IF update_member.birthday IS NOT NULL AND update_member.birthday OPERATOR(pg_catalog.>) CURRENT_DATE THEN
		RAISE EXCEPTION 'birthday must not be in the future'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', update_member.birthday);
	END IF;
	IF update_member.birthday IS NOT NULL AND update_member.birthday OPERATOR(pg_catalog.<=) DATE '1900-01-01' THEN
		RAISE EXCEPTION 'birthday must be after 1900-01-01'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', update_member.birthday),
				  HINT = 'Leave the birthday NULL when it is not known.';
	END IF;
	IF pg_catalog.octet_length(update_member.referral_source) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'referral_source is too long' USING ERRCODE = '22001',
			DETAIL = 'The limit is 200 bytes.';
	END IF;
	UPDATE @extschema@.member AS m SET
		card = COALESCE(update_member.card, m.card),
		birthday = COALESCE(update_member.birthday, m.birthday),
		referral_source = COALESCE(update_member.referral_source, m.referral_source),
		profile_changed_at = CASE
			WHEN update_member.card IS NOT NULL
			 AND (m.card IS NULL OR update_member.card OPERATOR(@extschema@.<>) m.card)
			THEN pg_catalog.now()
			ELSE m.profile_changed_at END
	 WHERE m.customer_id OPERATOR(pg_catalog.=) existing.customer_id
	   AND m.program_id OPERATOR(pg_catalog.=) existing.program_id
	RETURNING m.* INTO result;
	RETURN result;
END
$$;

-- Set a member's status: active, suspended or closed.
CREATE FUNCTION @extschema@.set_member_status(program text, customer_id bigint, status text)
RETURNS @extschema@.member
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	existing	@extschema@.member;
	result		@extschema@.member;
BEGIN
	IF set_member_status.status IS NULL THEN
		RAISE EXCEPTION 'status must not be null' USING ERRCODE = '22004';
	END IF;
	IF set_member_status.status OPERATOR(pg_catalog.<>) ALL (ARRAY['active', 'suspended', 'closed']) THEN
		RAISE EXCEPTION 'unknown member status "%"', set_member_status.status
			USING ERRCODE = '22023', HINT = 'Use active, suspended or closed.';
	END IF;
	existing := @extschema@.lock_member(set_member_status.program, set_member_status.customer_id);
	UPDATE @extschema@.member AS m SET
		status = set_member_status.status,
		status_changed_at = CASE WHEN m.status OPERATOR(pg_catalog.=) set_member_status.status
			THEN m.status_changed_at ELSE pg_catalog.now() END
	 WHERE m.customer_id OPERATOR(pg_catalog.=) existing.customer_id
	   AND m.program_id OPERATOR(pg_catalog.=) existing.program_id
	RETURNING m.* INTO result;
	RETURN result;
END
$$;

COMMENT ON FUNCTION @extschema@.enroll(text, bigint, @extschema@.card, date, text, bigint)
	IS 'enroll a customer (the application''s own key) in a program; idempotent';
COMMENT ON FUNCTION @extschema@.update_member(text, bigint, @extschema@.card, date, text)
	IS 'change a member''s card, birthday or referral source';
COMMENT ON FUNCTION @extschema@.set_member_status(text, bigint, text)
	IS 'set a member''s status: active, suspended or closed (only active members earn and redeem)';
COMMENT ON FUNCTION @extschema@.lock_member(text, bigint)
	IS 'internal: lock and return a member row, or raise LY002';
