import type { Update } from '@grammyjs/types';
import type { Attachment } from '../files/attachment.js';
import type { UserProfile } from '../users/user.js';
import type { ParsedMessage, ParsedUpdate } from './parsed-update.js';

/** An update that is not valid Bot API JSON; the message names the field. Answered with 400. */
export class MalformedUpdateError extends Error {
  constructor(
    readonly field: string,
    expected: string,
  ) {
    super(`Malformed update: ${field} must be ${expected}`);
    this.name = 'MalformedUpdateError';
  }
}

/** Every update kind of the Bot API (checked against @grammyjs/types); one of them must be present. */
const UPDATE_KINDS = [
  'message',
  'edited_message',
  'channel_post',
  'edited_channel_post',
  'business_connection',
  'business_message',
  'edited_business_message',
  'deleted_business_messages',
  'message_reaction',
  'message_reaction_count',
  'inline_query',
  'chosen_inline_result',
  'callback_query',
  'shipping_query',
  'pre_checkout_query',
  'purchased_paid_media',
  'poll',
  'poll_answer',
  'my_chat_member',
  'chat_member',
  'chat_join_request',
  'chat_boost',
  'removed_chat_boost',
] as const satisfies readonly Exclude<keyof Update, 'update_id'>[];

/** Message contents the bot does not read; named in its polite answer. */
const UNSUPPORTED = [
  'sticker',
  'animation',
  'video',
  'video_note',
  'audio',
  'location',
  'venue',
  'contact',
  'poll',
  'dice',
  'game',
  'story',
  'invoice',
] as const;

type Json = Record<string, unknown>;

function object(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new MalformedUpdateError(field, 'an object');
  return value as Json;
}

function int(o: Json, key: string, field: string): number {
  const value = o[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw new MalformedUpdateError(`${field}.${key}`, 'an integer');
  return value;
}

function optionalInt(o: Json, key: string, field: string): number | undefined {
  return o[key] === undefined ? undefined : int(o, key, field);
}

function string(o: Json, key: string, field: string): string {
  const value = o[key];
  if (typeof value !== 'string') throw new MalformedUpdateError(`${field}.${key}`, 'a string');
  // PostgreSQL text cannot hold NUL, and Telegram never sends one.
  if (value.includes('\u0000')) throw new MalformedUpdateError(`${field}.${key}`, 'a string without NUL characters');
  return value;
}

/** Latest Unix time accepted as a date (9999-12-31T23:59:59Z), so it always fits a timestamp. */
const MAX_DATE = 253_402_300_799;

function date(o: Json, key: string, field: string): number {
  const value = int(o, key, field);
  if (value < 0 || value > MAX_DATE)
    throw new MalformedUpdateError(`${field}.${key}`, `a Unix time from 0 to ${MAX_DATE}`);
  return value;
}

function optionalString(o: Json, key: string, field: string): string | undefined {
  return o[key] === undefined ? undefined : string(o, key, field);
}

function nonEmptyString(o: Json, key: string, field: string): string {
  const value = string(o, key, field);
  if (value === '') throw new MalformedUpdateError(`${field}.${key}`, 'a non-empty string');
  return value;
}

function user(value: unknown, field: string): UserProfile & { isBot: boolean } {
  const o = object(value, field);
  const isBot = o['is_bot'];
  if (typeof isBot !== 'boolean') throw new MalformedUpdateError(`${field}.is_bot`, 'a boolean');
  const profile: UserProfile & { isBot: boolean } = {
    id: int(o, 'id', field),
    isBot,
    firstName: string(o, 'first_name', field),
  };
  const lastName = optionalString(o, 'last_name', field);
  const username = optionalString(o, 'username', field);
  const languageCode = optionalString(o, 'language_code', field);
  if (lastName !== undefined) profile.lastName = lastName;
  if (username !== undefined) profile.username = username;
  if (languageCode !== undefined) profile.languageCode = languageCode;
  return profile;
}

function file(value: unknown, field: string, kind: Attachment['kind']): Attachment {
  const o = object(value, field);
  const attachment: Attachment = {
    kind,
    fileId: nonEmptyString(o, 'file_id', field),
    fileUniqueId: nonEmptyString(o, 'file_unique_id', field),
  };
  const fileSize = optionalInt(o, 'file_size', field);
  const fileName = optionalString(o, 'file_name', field);
  const mimeType = optionalString(o, 'mime_type', field);
  const duration = optionalInt(o, 'duration', field);
  if (fileSize !== undefined) {
    if (fileSize < 0) throw new MalformedUpdateError(`${field}.file_size`, 'a non-negative integer');
    attachment.fileSize = fileSize;
  }
  if (fileName !== undefined) attachment.fileName = fileName;
  if (mimeType !== undefined) attachment.mimeType = mimeType;
  if (duration !== undefined) attachment.duration = duration;
  return attachment;
}

function attachments(o: Json, field: string): Attachment[] {
  const out: Attachment[] = [];
  if (o['document'] !== undefined) out.push(file(o['document'], `${field}.document`, 'document'));
  if (o['photo'] !== undefined) {
    const sizes = o['photo'];
    if (!Array.isArray(sizes) || sizes.length === 0)
      throw new MalformedUpdateError(`${field}.photo`, 'a non-empty array of PhotoSize');
    // Telegram lists the sizes smallest first: the last is the original.
    out.push(file(sizes[sizes.length - 1], `${field}.photo[${sizes.length - 1}]`, 'photo'));
  }
  if (o['voice'] !== undefined) {
    const voice = file(o['voice'], `${field}.voice`, 'voice');
    int(object(o['voice'], `${field}.voice`), 'duration', `${field}.voice`);
    out.push(voice);
  }
  return out;
}

function content(o: Json, field: string, files: Attachment[], text: string | undefined): ParsedMessage['content'] {
  if (o['successful_payment'] !== undefined) {
    const p = object(o['successful_payment'], `${field}.successful_payment`);
    const f = `${field}.successful_payment`;
    const totalAmount = int(p, 'total_amount', f);
    if (totalAmount <= 0) throw new MalformedUpdateError(`${f}.total_amount`, 'a positive integer');
    const currency = string(p, 'currency', f);
    if (!/^[A-Z]{3}$/.test(currency)) throw new MalformedUpdateError(`${f}.currency`, 'a three-letter currency code');
    return {
      kind: 'payment',
      currency,
      totalAmount,
      payload: string(p, 'invoice_payload', f),
      telegramChargeId: nonEmptyString(p, 'telegram_payment_charge_id', f),
    };
  }
  if (o['forum_topic_created'] !== undefined) {
    return {
      kind: 'topic-created',
      name: string(
        object(o['forum_topic_created'], `${field}.forum_topic_created`),
        'name',
        `${field}.forum_topic_created`,
      ),
    };
  }
  if (o['forum_topic_edited'] !== undefined) {
    return {
      kind: 'topic-edited',
      name: optionalString(
        object(o['forum_topic_edited'], `${field}.forum_topic_edited`),
        'name',
        `${field}.forum_topic_edited`,
      ),
    };
  }
  if (files.length > 0) return { kind: 'files' };
  if (text !== undefined) return { kind: 'text' };
  return { kind: 'unsupported', what: UNSUPPORTED.find((key) => o[key] !== undefined) ?? 'this kind of message' };
}

function message(value: unknown, field: string): ParsedMessage {
  const o = object(value, field);
  const chat = object(o['chat'], `${field}.chat`);
  const chatType = string(chat, 'type', `${field}.chat`);
  const from = o['from'] === undefined ? undefined : user(o['from'], `${field}.from`);
  const threadId = optionalInt(o, 'message_thread_id', field);
  const isTopic = o['is_topic_message'] === true || chat['is_forum'] === true;
  const rawText = o['text'] ?? o['caption'];
  const text = rawText === undefined ? undefined : string(o, o['text'] !== undefined ? 'text' : 'caption', field);
  if (rawText !== undefined && text !== undefined && text.length > 4096)
    throw new MalformedUpdateError(`${field}.text`, 'at most 4096 characters');
  const files = attachments(o, field);
  return {
    messageId: int(o, 'message_id', field),
    date: date(o, 'date', field),
    chat: {
      id: int(chat, 'id', `${field}.chat`),
      type: chatType,
      title: optionalString(chat, 'title', `${field}.chat`),
    },
    from,
    threadId: isTopic && threadId !== undefined ? threadId : 0,
    text,
    attachments: files,
    content: content(o, field, files, text),
  };
}

/**
 * Validates a webhook body as a Bot API Update and reduces it to what the bot uses. Throws
 * {@link MalformedUpdateError} naming the first bad field; kinds the bot does not handle parse as `ignored`.
 * @example parseUpdate({ update_id: 1, message: { message_id: 1, date: 0, chat: { id: 5, type: 'private' }, text: 'hi' } })
 */
export function parseUpdate(body: unknown): ParsedUpdate {
  const update = object(body, 'update');
  const updateId = int(update, 'update_id', 'update');
  const present = Object.keys(update).filter((key) => key !== 'update_id' && update[key] !== undefined);
  if (present.length !== 1)
    throw new MalformedUpdateError(
      'update',
      `an object with update_id and exactly one update field (got ${present.length === 0 ? 'none' : present.join(', ')})`,
    );
  const kind = present[0]!;
  const value = update[kind];
  switch (kind) {
    case 'message':
      return { type: 'message', updateId, message: message(value, 'message') };
    case 'edited_message':
      return { type: 'edited_message', updateId, message: message(value, 'edited_message') };
    case 'callback_query': {
      const q = object(value, 'callback_query');
      const m = q['message'] === undefined ? undefined : object(q['message'], 'callback_query.message');
      const chatId =
        m === undefined
          ? undefined
          : int(object(m['chat'], 'callback_query.message.chat'), 'id', 'callback_query.message.chat');
      return {
        type: 'callback_query',
        updateId,
        query: {
          id: nonEmptyString(q, 'id', 'callback_query'),
          from: user(q['from'], 'callback_query.from'),
          data: optionalString(q, 'data', 'callback_query'),
          chatId,
        },
      };
    }
    case 'pre_checkout_query': {
      const q = object(value, 'pre_checkout_query');
      const f = 'pre_checkout_query';
      return {
        type: 'pre_checkout_query',
        updateId,
        query: {
          id: nonEmptyString(q, 'id', f),
          from: user(q['from'], `${f}.from`),
          currency: string(q, 'currency', f),
          totalAmount: int(q, 'total_amount', f),
          payload: string(q, 'invoice_payload', f),
        },
      };
    }
    default:
      object(value, kind);
      return { type: 'ignored', updateId, kind: (UPDATE_KINDS as readonly string[]).includes(kind) ? kind : 'unknown' };
  }
}
