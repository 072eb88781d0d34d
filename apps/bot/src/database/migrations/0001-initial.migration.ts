import type { Migration } from '../migration.js';

/** Users, threads, messages and the payments ledger. */
export const initialMigration: Migration = {
  id: '0001-initial',
  sql: `
CREATE TABLE users (
  id              bigint PRIMARY KEY,                 -- the Telegram user id
  first_name      text NOT NULL,
  last_name       text,
  username        text,
  language_code   text,
  model_id        text NOT NULL,
  balance         numeric(18, 4) NOT NULL CHECK (balance >= 0),
  balance_version bigint NOT NULL DEFAULT 0,          -- +1 on every balance change: orders cache updates
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE threads (
  id            bigserial PRIMARY KEY,
  chat_id       bigint NOT NULL,
  user_id       bigint NOT NULL REFERENCES users (id),  -- who opened it
  thread_id     bigint NOT NULL DEFAULT 0,              -- message_thread_id of a forum topic; 0 outside topics
  title         text NOT NULL,
  files_context jsonb NOT NULL DEFAULT '[]'::jsonb,     -- the latest files sent in the thread (attachments)
  version       bigint NOT NULL DEFAULT 0,              -- +1 on every files_context change
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (chat_id, thread_id)
);

CREATE TABLE messages (
  id             bigserial PRIMARY KEY,
  thread_id      bigint NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
  user_id        bigint REFERENCES users (id),           -- null for the bot's replies
  role           text NOT NULL CHECK (role IN ('user', 'assistant')),
  tg_message_id  bigint,                                 -- Telegram's message_id of a user message
  text           text NOT NULL DEFAULT '',
  attachments    jsonb NOT NULL DEFAULT '[]'::jsonb,
  date           timestamptz NOT NULL,
  edited_at      timestamptz
);
CREATE INDEX messages_thread_id_idx ON messages (thread_id, id DESC);
-- Telegram re-delivers an update it got no 2xx for: the second delivery must not be charged or stored twice.
CREATE UNIQUE INDEX messages_telegram_id_uq ON messages (thread_id, tg_message_id) WHERE role = 'user';

CREATE TABLE payments (
  id            bigserial PRIMARY KEY,
  user_id       bigint NOT NULL REFERENCES users (id),
  kind          text NOT NULL CHECK (kind IN ('payment', 'refund', 'topup', 'charge')),
  amount        numeric(18, 4) NOT NULL CHECK (amount > 0),
  balance_after numeric(18, 4) NOT NULL,
  message_id    bigint REFERENCES messages (id),        -- the user message a charge paid for
  refund_of     bigint UNIQUE REFERENCES payments (id), -- the charge a refund gives back (once)
  external_id   text UNIQUE,                            -- telegram_payment_charge_id (delivered once)
  currency      text,
  note          text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_user_id_idx ON payments (user_id, id DESC);
`,
};
