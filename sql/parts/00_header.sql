-- loyalty 0.1.0 install script, concatenated from sql/parts/*.sql by the Makefile.
\echo Use "CREATE EXTENSION loyalty" to load this file. \quit
