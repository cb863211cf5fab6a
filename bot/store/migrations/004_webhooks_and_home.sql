-- Bland webhooks already handled (replays are answered but not acted on), and who has opened the Home tab
-- (their view is refreshed when state changes).
CREATE TABLE webhook_events (
    digest      TEXT PRIMARY KEY,
    call_id     TEXT,
    received_at REAL NOT NULL
);

CREATE TABLE home_views (
    "user"    TEXT PRIMARY KEY,
    opened_at REAL NOT NULL
);
