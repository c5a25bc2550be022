-- loyalty 0.2.0 -> 0.3.0: changes to objects 0.2.0 already has.  The Makefile
-- appends the parts new in 0.3.0 (NEW_PARTS), whose statements are the same
-- for a fresh install and for this update.
\echo Use "ALTER EXTENSION loyalty UPDATE TO '0.3.0'" to load this file. \quit
