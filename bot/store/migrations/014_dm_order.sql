-- A person's direct messages are one ordered stream, like a thread's replies (issue 24): rows queued
-- before this migration join their person's group, so they too go out in the order they were queued.
UPDATE outbox SET grp = channel || '|dm' WHERE channel LIKE '@%' AND op <> 'update' AND state = 'pending';
