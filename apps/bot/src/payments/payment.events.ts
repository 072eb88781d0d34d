/** Event names of the payments ledger (through @nestjs/event-emitter); each changes a user's balance. */
export const PaymentEvents = {
  /** A Telegram payment (successful_payment) was credited. */
  completed: 'payment.completed',
  /** A charge was given back. */
  refunded: 'payment.refunded',
  /** An admin topped a balance up. */
  toppedUp: 'payment.topped-up',
} as const;

/** Payload of every payment event. */
export interface PaymentEvent {
  userId: number;
  paymentId: number;
  /** Exact decimal. */
  amount: string;
  /** The user's balance after it (exact decimal). */
  balance: string;
}
