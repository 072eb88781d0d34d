/** Builders of Bot API updates as Telegram sends them (only the fields the bot reads, plus a few it ignores). */

export interface TgUser {
  id: number;
  first_name: string;
  last_name?: string;
  username?: string;
}

let nextUpdateId = 1_000;
const next = (): number => nextUpdateId++;

/** A private chat with `user`. */
export const privateChat = (user: TgUser) => ({ id: user.id, type: 'private', first_name: user.first_name });

/** A forum supergroup. */
export const forum = (id: number, title: string) => ({ id, type: 'supergroup', title, is_forum: true });

const from = (user: TgUser) => ({ is_bot: false, language_code: 'en', ...user });

interface Where {
  chat: { id: number; type: string; [k: string]: unknown };
  topic?: number;
}

function baseMessage(user: TgUser, where: Where, messageId: number, date: number) {
  return {
    message_id: messageId,
    from: from(user),
    chat: where.chat,
    date,
    ...(where.topic !== undefined ? { message_thread_id: where.topic, is_topic_message: true } : {}),
  };
}

export function textUpdate(
  user: TgUser,
  where: Where,
  messageId: number,
  text: string,
  date = 1_795_000_000 + messageId,
) {
  return { update_id: next(), message: { ...baseMessage(user, where, messageId, date), text } };
}

export function editedUpdate(user: TgUser, where: Where, messageId: number, text: string) {
  return {
    update_id: next(),
    edited_message: {
      ...baseMessage(user, where, messageId, 1_795_000_000 + messageId),
      edit_date: 1_795_100_000,
      text,
    },
  };
}

export function documentUpdate(
  user: TgUser,
  where: Where,
  messageId: number,
  doc: { id: string; size: number; name: string },
  caption?: string,
) {
  return {
    update_id: next(),
    message: {
      ...baseMessage(user, where, messageId, 1_795_000_000 + messageId),
      document: {
        file_id: doc.id,
        file_unique_id: `u-${doc.id}`,
        file_name: doc.name,
        mime_type: 'application/pdf',
        file_size: doc.size,
      },
      ...(caption !== undefined ? { caption } : {}),
    },
  };
}

export function photoUpdate(user: TgUser, where: Where, messageId: number, id: string) {
  return {
    update_id: next(),
    message: {
      ...baseMessage(user, where, messageId, 1_795_000_000 + messageId),
      photo: [
        { file_id: `${id}-s`, file_unique_id: `u-${id}-s`, width: 90, height: 90, file_size: 1_000 },
        { file_id: id, file_unique_id: `u-${id}`, width: 1280, height: 960, file_size: 120_000 },
      ],
    },
  };
}

export function voiceUpdate(user: TgUser, where: Where, messageId: number, id: string) {
  return {
    update_id: next(),
    message: {
      ...baseMessage(user, where, messageId, 1_795_000_000 + messageId),
      voice: { file_id: id, file_unique_id: `u-${id}`, duration: 3, mime_type: 'audio/ogg', file_size: 9_000 },
    },
  };
}

export function stickerUpdate(user: TgUser, where: Where, messageId: number) {
  return {
    update_id: next(),
    message: {
      ...baseMessage(user, where, messageId, 1_795_000_000 + messageId),
      sticker: {
        file_id: 'st',
        file_unique_id: 'ust',
        type: 'regular',
        width: 512,
        height: 512,
        is_animated: false,
        is_video: false,
      },
    },
  };
}

export function topicCreatedUpdate(user: TgUser, chat: Where['chat'], topic: number, name: string) {
  return {
    update_id: next(),
    message: {
      ...baseMessage(user, { chat, topic }, topic, 1_795_000_000),
      forum_topic_created: { name, icon_color: 7322096 },
    },
  };
}

export function callbackUpdate(user: TgUser, chat: Where['chat'], data: string) {
  return {
    update_id: next(),
    callback_query: {
      id: `cb-${next()}`,
      from: from(user),
      chat_instance: '1',
      data,
      message: { message_id: 1, date: 1_795_000_000, chat },
    },
  };
}

export function paymentUpdate(
  user: TgUser,
  messageId: number,
  totalAmount: number,
  chargeId: string,
  payload = 'topup',
  currency = 'USD',
) {
  return {
    update_id: next(),
    message: {
      ...baseMessage(user, { chat: privateChat(user) }, messageId, 1_795_000_000 + messageId),
      successful_payment: {
        currency,
        total_amount: totalAmount,
        invoice_payload: payload,
        telegram_payment_charge_id: chargeId,
        provider_payment_charge_id: `p-${chargeId}`,
      },
    },
  };
}

export function preCheckoutUpdate(user: TgUser, totalAmount: number, payload = 'topup', currency = 'USD') {
  return {
    update_id: next(),
    pre_checkout_query: {
      id: `pc-${next()}`,
      from: from(user),
      currency,
      total_amount: totalAmount,
      invoice_payload: payload,
    },
  };
}

export function pollUpdate() {
  return {
    update_id: next(),
    poll: {
      id: 'p1',
      question: 'q?',
      options: [],
      total_voter_count: 0,
      is_closed: false,
      is_anonymous: true,
      type: 'regular',
      allows_multiple_answers: false,
    },
  };
}
