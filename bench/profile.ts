import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { Cached } from 'nestjs-tiercache';

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

/** A provider decorated as a user would: one integer id per profile, counting its loads (a hit must not load). */
@Injectable()
export class ProfileService {
  loads = 0;

  @Cached({ namespace: 'profile', key: (id: number) => id })
  async getProfile(id: number): Promise<Profile> {
    this.loads++;
    return profile(id);
  }
}

/** The module the benches boot {@link ProfileService} in (beside `CacheModule.forRoot`). */
@Module({})
export class ProfileModule {}
