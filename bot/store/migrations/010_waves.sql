-- A batch whose callees' calling hours open at different times goes out in waves, under its one approval:
-- each wave is a request of its own (its rows, its send, its Bland batch), approved with its parent.
ALTER TABLE batch_requests ADD COLUMN parent_id TEXT;
ALTER TABLE batch_requests ADD COLUMN wave INTEGER;
-- On a parent: how many waves it was split into (0: sent whole).
ALTER TABLE batch_requests ADD COLUMN waves INTEGER NOT NULL DEFAULT 0;
-- When requested: when its rows would go out if approved at once, as [[epoch seconds, rows], ...].
ALTER TABLE batch_requests ADD COLUMN wave_plan TEXT NOT NULL DEFAULT '[]';
CREATE INDEX batch_requests_parent ON batch_requests (parent_id);
