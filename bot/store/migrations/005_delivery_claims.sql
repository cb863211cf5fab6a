-- Which process claimed a ledger entry: a claim left without a ts by a process that is gone is "in doubt"
-- and is reconciled against Slack (by the delivery key in the message's metadata) before posting again.
ALTER TABLE notifications ADD COLUMN claimed_by TEXT;
