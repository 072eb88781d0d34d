import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { MalformedUpdateError, parseUpdate } from '../../apps/bot/src/telegram/update.parser.js';
import {
  callbackUpdate,
  documentUpdate,
  forum,
  photoUpdate,
  privateChat,
  stickerUpdate,
  textUpdate,
  voiceUpdate,
} from './support/updates.js';

const ada = { id: 42, first_name: 'Ada', last_name: 'Lovelace', username: 'ada' };

describe('parseUpdate', () => {
  it('parses the sample update shipped in samples/update.json', () => {
    const sample: unknown = JSON.parse(readFileSync(new URL('../../samples/update.json', import.meta.url), 'utf8'));
    expect(parseUpdate(sample)).toEqual({
      type: 'message',
      updateId: 100000001,
      message: {
        messageId: 1,
        date: 1795000000,
        chat: { id: 42, type: 'private', title: undefined },
        from: { id: 42, isBot: false, firstName: 'Ada', lastName: 'Lovelace', username: 'ada', languageCode: 'en' },
        threadId: 0,
        text: 'Hello, bot!',
        attachments: [],
        content: { kind: 'text' },
      },
    });
  });

  it('takes the topic of forum messages only', () => {
    const group = forum(-100_1, 'G');
    const inTopic = parseUpdate(textUpdate(ada, { chat: group, topic: 7 }, 3, 'hi'));
    expect(inTopic.type === 'message' && inTopic.message.threadId).toBe(7);
    // A reply thread in a non-forum group is not a topic.
    const reply = textUpdate(ada, { chat: { id: -5, type: 'group', title: 'g' } }, 4, 'hi');
    const parsed = parseUpdate({ ...reply, message: { ...reply.message, message_thread_id: 3 } });
    expect(parsed.type === 'message' && parsed.message.threadId).toBe(0);
  });

  it('collects file ids of documents, the largest photo size and voice notes', () => {
    const chat = privateChat(ada);
    const doc = parseUpdate(documentUpdate(ada, { chat }, 1, { id: 'd1', size: 10, name: 'a.pdf' }, 'see'));
    expect(doc.type === 'message' && doc.message).toMatchObject({
      text: 'see',
      content: { kind: 'files' },
      attachments: [
        {
          kind: 'document',
          fileId: 'd1',
          fileUniqueId: 'u-d1',
          fileName: 'a.pdf',
          fileSize: 10,
          mimeType: 'application/pdf',
        },
      ],
    });
    const photo = parseUpdate(photoUpdate(ada, { chat }, 2, 'p1'));
    expect(photo.type === 'message' && photo.message.attachments).toEqual([
      { kind: 'photo', fileId: 'p1', fileUniqueId: 'u-p1', fileSize: 120_000 },
    ]);
    const voice = parseUpdate(voiceUpdate(ada, { chat }, 3, 'v1'));
    expect(voice.type === 'message' && voice.message.attachments).toEqual([
      { kind: 'voice', fileId: 'v1', fileUniqueId: 'u-v1', fileSize: 9_000, mimeType: 'audio/ogg', duration: 3 },
    ]);
    const sticker = parseUpdate(stickerUpdate(ada, { chat }, 4));
    expect(sticker.type === 'message' && sticker.message.content).toEqual({ kind: 'unsupported', what: 'sticker' });
  });

  it('parses callback queries and ignores other update kinds', () => {
    expect(parseUpdate(callbackUpdate(ada, privateChat(ada), 'model:echo-1'))).toMatchObject({
      type: 'callback_query',
      query: { data: 'model:echo-1', chatId: 42, from: { id: 42 } },
    });
    expect(parseUpdate({ update_id: 1, channel_post: { message_id: 1 } })).toEqual({
      type: 'ignored',
      updateId: 1,
      kind: 'channel_post',
    });
    expect(parseUpdate({ update_id: 1, brand_new_kind: {} })).toEqual({
      type: 'ignored',
      updateId: 1,
      kind: 'unknown',
    });
  });

  it.each([
    [null, 'update must be an object'],
    [{ update_id: 1.5, message: {} }, 'update.update_id must be an integer'],
    [{ update_id: 1, message: { message_id: 1, date: 1, chat: { id: 1 } } }, 'message.chat.type must be a string'],
    [
      {
        update_id: 1,
        message: {
          message_id: 1,
          date: 1,
          chat: { id: 1, type: 'private' },
          voice: { file_id: 'v', file_unique_id: 'u' },
        },
      },
      'message.voice.duration must be an integer',
    ],
    [
      { update_id: 1, message: { message_id: 1, date: 1, chat: { id: 1, type: 'private' }, text: 'x'.repeat(4097) } },
      'message.text must be at most 4096 characters',
    ],
    [
      {
        update_id: 1,
        message: {
          message_id: 1,
          date: 1,
          chat: { id: 1, type: 'private' },
          successful_payment: {
            currency: 'usd',
            total_amount: 1,
            invoice_payload: '',
            telegram_payment_charge_id: 'c',
          },
        },
      },
      'message.successful_payment.currency must be a three-letter currency code',
    ],
  ])('rejects %j', (body, reason) => {
    expect(() => parseUpdate(body)).toThrow(
      new MalformedUpdateError('x', 'y').constructor as typeof MalformedUpdateError,
    );
    expect(() => parseUpdate(body)).toThrow(`Malformed update: ${reason}`);
  });
});
