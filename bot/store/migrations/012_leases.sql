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
