import type { Migration } from '../migration.js';

/** Invoices the bot issued (only those are credited), the user's timezone (for /stats) and the index /stats reads. */
export const invoicesStatsMigration: Migration = {
  id: '0002-invoices-stats',
  sql: `
CREATE TABLE invoices (
  id            bigserial PRIMARY KEY,
  user_id       bigint NOT NULL REFERENCES users (id),
  payload       text NOT NULL UNIQUE,                    -- invoice_payload: random, issued by the bot
  currency      text NOT NULL,
  total_amount  bigint NOT NULL CHECK (total_amount > 0), -- in the currency's smallest unit, as Telegram reports it
  amount        numeric(18, 4) NOT NULL CHECK (amount > 0), -- what a successful payment credits
  payment_id    bigint UNIQUE REFERENCES payments (id),  -- set once, when paid
  created_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE users ADD COLUMN timezone text;

CREATE INDEX messages_user_date_idx ON messages (user_id, date) WHERE role = 'user';
`,
};
