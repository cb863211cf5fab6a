-- Replicas share the work (issue 16): a due tracked item is polled by the replica holding its lease; a
-- lease that is not given back (the replica died) expires, and another replica takes the item.
ALTER TABLE tracked ADD COLUMN lease_owner TEXT;
ALTER TABLE tracked ADD COLUMN lease_until REAL;

-- Periodic work done once per interval across replicas: whoever moves `until` forward takes the turn.
CREATE TABLE chore_turns (
    name    TEXT    PRIMARY KEY,
    owner   TEXT    NOT NULL,
    until   REAL    NOT NULL
);

-- A pending Slack delivery is taken by one replica at a time (the same lease), so two replicas never post
-- the same message at once.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until REAL;
