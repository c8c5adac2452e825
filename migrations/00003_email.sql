-- +goose Up

-- suppressions lists addresses that must never get marketing email from a
-- store: unsubscribed, bounced (5xx), or added by an operator.
CREATE TABLE suppressions (
    store_id   bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    email      text NOT NULL,
    reason     text NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'manual')),
    source     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, email)
);

CREATE TABLE campaigns (
    id           bigserial PRIMARY KEY,
    store_id     bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    name         text NOT NULL,
    template     text NOT NULL,
    strategy     text NOT NULL DEFAULT 'blend',
    k            int NOT NULL DEFAULT 6,
    segment      text NOT NULL,
    subject      text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'sending', 'sent', 'cancelled')),
    audience     int NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    cancelled_at timestamptz
);

-- sends is the ledger: one row per (campaign or flow step, customer), claimed
-- before the SMTP conversation, so that a job that runs twice sends once.
CREATE TABLE sends (
    id          bigserial PRIMARY KEY,
    store_id    bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    source_key  text NOT NULL, -- 'campaign:12' or 'flow:3:order:981'
    campaign_id bigint REFERENCES campaigns ON DELETE CASCADE,
    customer_id bigint NOT NULL REFERENCES customers ON DELETE CASCADE,
    email       text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    reason      text NOT NULL DEFAULT '',
    message_id  text NOT NULL DEFAULT '',
    products    bigint[] NOT NULL DEFAULT '{}',
    holdout     boolean NOT NULL DEFAULT false,
    attempts    int NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    claimed_at  timestamptz,
    sent_at     timestamptz,
    UNIQUE (source_key, customer_id)
);
CREATE INDEX sends_campaign_status_idx ON sends (campaign_id, status);
CREATE INDEX sends_customer_sent_idx ON sends (customer_id, sent_at);

-- +goose Down
DROP TABLE sends, campaigns, suppressions;
