-- Spend one point of a random member among customers :first to :last
-- (pgbench -D first=... -D last=...; bench/redeem.sh).
\set cid random(:first, :last)
SELECT loyalty.redeem('bench', :cid, 1);
