-- Spend one point of a random member of the program with every fraud check on.
\set cid random(1, 10000)
SELECT loyalty.redeem('bench_fraud', :cid, 1);
