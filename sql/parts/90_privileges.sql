--
-- Privileges: nothing is executable by PUBLIC except the card type's own
-- I/O, comparison and validation functions.  README.md documents the GRANTs
-- for the application, BI and administrator roles.
--
REVOKE ALL ON FUNCTION
	@extschema@.check_program_settings(text, bigint, numeric, text, text, integer, text, text),
	@extschema@.create_program(text, text, text, bigint, numeric, text, text, integer, text, text),
	@extschema@.alter_program(text, text, text, bigint, numeric, text, text, integer, text, text),
	@extschema@.program_id(text),
	@extschema@.points_for(text, numeric),
	@extschema@.enroll(text, bigint, @extschema@.card, date, text, bigint),
	@extschema@.lock_member(text, bigint),
	@extschema@.update_member(text, bigint, @extschema@.card, date, text),
	@extschema@.set_member_status(text, bigint, text),
	@extschema@.earn(text, bigint, bigint, text, text, text, timestamptz, timestamptz, text),
	@extschema@.redeem(text, bigint, bigint, text, text, text, text),
	@extschema@.adjust(text, bigint, bigint, text, text, text, timestamptz, text),
	@extschema@.balance(text, bigint),
	@extschema@.statement(text, bigint, timestamptz, timestamptz),
	@extschema@.release_pending(timestamptz, integer),
	@extschema@.release_member(bigint, integer, timestamptz, text),
	@extschema@.verify(),
	@extschema@.ledger_immutable(),
	@extschema@.order_trigger()
FROM PUBLIC;
