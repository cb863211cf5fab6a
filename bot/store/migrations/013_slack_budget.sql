-- Slack's rate limits are per app per workspace, not per process: replicas spend one shared budget
-- (issue 16). A row is a token bucket for one tier or channel (`tokens` as of `at`); `hold_until` is
-- Slack's Retry-After after a 429, which every replica then honours.
CREATE TABLE slack_budget (
    key         TEXT    PRIMARY KEY,
    tokens      REAL    NOT NULL,
    at          REAL    NOT NULL,
    hold_until  REAL
);

-- When a card was last edited, whichever replica edited it: a live card is shown at most this often.
ALTER TABLE outbox ADD COLUMN shown_at REAL;
