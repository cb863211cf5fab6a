-- Rows the requester chose to leave out of a batch because they had problems (`line 4: not a valid phone
-- number`), named on the approval card.
ALTER TABLE batch_requests ADD COLUMN skipped TEXT NOT NULL DEFAULT '[]';
