\set ECHO none
-- Shared psql settings for every pgTAP test file.
\set QUIET 1
\set ON_ERROR_ROLLBACK 1
\set ON_ERROR_STOP true
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
