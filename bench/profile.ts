/** The value every bench caches: a ~300-byte JSON object, the shape of a chat bot's user row. */
export interface Profile {
  id: number;
  username: string;
  firstName: string;
  lastName: string;
  languageCode: string;
  isPremium: boolean;
  balance: string;
  modelId: string;
  threadId: number;
  createdAt: string;
  settings: { notifications: boolean; theme: string; locale: string };
  tags: string[];
}

/** The profile of user `id` (305 bytes of JSON for a small id). */
export function profile(id: number): Profile {
  return {
    id,
    username: `user_${String(id).padStart(6, '0')}`,
    firstName: 'Ada',
    lastName: 'Lovelace',
    languageCode: 'en',
    isPremium: true,
    balance: '1234.56',
    modelId: 'gpt-4o-mini',
    threadId: 9_000_000 + id,
    createdAt: '2026-11-22T10:00:00.000Z',
    settings: { notifications: true, theme: 'dark', locale: 'en-GB' },
    tags: ['beta', 'telegram'],
  };
}
