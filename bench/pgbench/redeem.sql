-- Spend one point of a random member.
\set cid random(1, 10000)
SELECT loyalty.redeem('bench', :cid, 1);
