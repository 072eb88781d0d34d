import type { ApiMethods } from '@grammyjs/types';

type Params<M extends keyof ApiMethods<never>> = Parameters<ApiMethods<never>[M]>[0];

/**
 * A Bot API method call returned as the webhook response body, which Telegram executes (one per update, result not
 * reported back). Typed by @grammyjs/types.
 */
export type WebhookReply =
  | ({ method: 'sendMessage' } & Params<'sendMessage'>)
  | ({ method: 'answerCallbackQuery' } & Params<'answerCallbackQuery'>)
  | ({ method: 'answerPreCheckoutQuery' } & Params<'answerPreCheckoutQuery'>)
  | ({ method: 'sendInvoice' } & Params<'sendInvoice'>);

/** Telegram's limit for a message text. */
export const MAX_TEXT = 4096;

/** A sendMessage answering `messageId` in its chat and topic. */
export function sendMessage(
  chatId: number,
  threadId: number,
  messageId: number,
  text: string,
  extra: Partial<Params<'sendMessage'>> = {},
): WebhookReply {
  return {
    method: 'sendMessage',
    chat_id: chatId,
    ...(threadId !== 0 ? { message_thread_id: threadId } : {}),
    text: text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text,
    reply_parameters: { message_id: messageId, allow_sending_without_reply: true },
    ...extra,
  };
}
