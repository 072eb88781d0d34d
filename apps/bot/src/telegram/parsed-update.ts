import type { Attachment } from '../files/attachment.js';
import type { UserProfile } from '../users/user.js';

/** A Telegram message, reduced to what the bot uses. */
export interface ParsedMessage {
  messageId: number;
  /** Unix seconds. */
  date: number;
  chat: { id: number; type: string; title: string | undefined };
  /** Absent for channel-like senders (anonymous admins, linked channels). */
  from: (UserProfile & { isBot: boolean }) | undefined;
  /** Forum topic (message_thread_id) of a topic message; 0 otherwise. */
  threadId: number;
  /** Text, or the caption of a file. */
  text: string | undefined;
  attachments: Attachment[];
  content:
    | { kind: 'text' }
    | { kind: 'files' }
    | { kind: 'payment'; currency: string; totalAmount: number; payload: string; telegramChargeId: string }
    | { kind: 'topic-created'; name: string }
    | { kind: 'topic-edited'; name: string | undefined }
    | { kind: 'unsupported'; what: string };
}

/** A validated update. `ignored` covers every kind the bot does not act on. */
export type ParsedUpdate =
  | { type: 'message'; updateId: number; message: ParsedMessage }
  | { type: 'edited_message'; updateId: number; message: ParsedMessage }
  | {
      type: 'callback_query';
      updateId: number;
      query: { id: string; from: UserProfile; data: string | undefined; chatId: number | undefined };
    }
  | {
      type: 'pre_checkout_query';
      updateId: number;
      query: { id: string; from: UserProfile; currency: string; totalAmount: number; payload: string };
    }
  | { type: 'ignored'; updateId: number; kind: string };
