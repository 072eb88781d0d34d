import type { Attachment } from '../files/attachment.js';

/** One message of a thread's history (cached as a capped list in namespace `messages`, key = thread id). */
export interface ChatMessage {
  /** Database id: increases in thread order. */
  id: number;
  role: 'user' | 'assistant';
  text: string;
  attachments: Attachment[];
  /** Unix time, seconds. */
  date: number;
}
