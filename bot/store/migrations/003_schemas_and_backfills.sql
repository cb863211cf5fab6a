-- Citation schemas this bot created or used (the fallback when Bland has no list endpoint), and
-- backfills: a confirmed plan, its card, and the workflows it was split into.
CREATE TABLE citation_schemas (
    id           TEXT PRIMARY KEY,
    name         TEXT,
    description  TEXT,
    created_by   TEXT,
    created_at   REAL NOT NULL,
    last_used_at REAL
);

CREATE TABLE backfills (
    id         TEXT PRIMARY KEY,
    requester  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    plan       TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'draft',
    card_ts    TEXT,
    workflows  TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX backfills_created ON backfills (created_at);
