/** One ledger row. Amounts are exact decimals (strings); `amount` is always positive, `kind` says the direction. */
export interface Payment {
  id: number;
  userId: number;
  kind: 'payment' | 'refund' | 'topup' | 'charge';
  amount: string;
  balanceAfter: string;
  messageId: number | null;
  refundOf: number | null;
  externalId: string | null;
  currency: string | null;
  note: string | null;
  createdAt: string;
}

/** A balance change that committed. */
export interface Credit {
  paymentId: number;
  amount: string;
  balance: string;
}
