import { Injectable } from '@nestjs/common';
import { Cached, CacheInvalidate, CachePut, CacheService } from 'nestjs-tiercache';
import { BotConfig } from '../config/bot-config.js';
import { PaymentEvents } from '../payments/payment.events.js';
import type { PaymentEvent } from '../payments/payment.events.js';
import type { User, UserProfile } from './user.js';
import { UsersRepository } from './users.repository.js';

const byPaymentUser = (e: PaymentEvent): number => e.userId;

/**
 * Users through the cache (namespace `user`, key = Telegram user id). Reads are cache-aside; registration writes
 * through; a model change invalidates; payment events invalidate; a charge updates the cached balance in place.
 */
@Injectable()
export class UsersService {
  constructor(
    private readonly repository: UsersRepository,
    private readonly cache: CacheService,
    private readonly config: BotConfig,
  ) {}

  /** The user, or null if unknown (a null is cached too, until registration replaces it). */
  @Cached({
    namespace: 'user',
    key: (userId: number) => userId,
    invalidateOn: {
      [PaymentEvents.completed]: byPaymentUser,
      [PaymentEvents.refunded]: byPaymentUser,
      [PaymentEvents.toppedUp]: byPaymentUser,
    },
  })
  async getUser(userId: number): Promise<User | null> {
    return this.repository.find(userId);
  }

  /** Registers a user (or refreshes their names) with the default model and the initial balance. */
  @CachePut({ namespace: 'user', key: (profile: UserProfile) => profile.id })
  async register(profile: UserProfile): Promise<User> {
    return this.repository.upsert(profile, this.config.defaultModel, this.config.initialBalance);
  }

  /** The user, registering them on first contact (names refreshed when Telegram reports new ones). */
  async ensure(profile: UserProfile): Promise<User> {
    const user = await this.getUser(profile.id);
    if (
      user &&
      user.firstName === profile.firstName &&
      user.lastName === (profile.lastName ?? null) &&
      user.username === (profile.username ?? null)
    )
      return user;
    return this.register(profile);
  }

  /** Changes the user's model; the cached user is invalidated once the row is written. */
  @CacheInvalidate({ namespace: 'user', key: (userId: number) => userId })
  async setModel(userId: number, modelId: string): Promise<boolean> {
    return this.repository.setModel(userId, modelId);
  }

  /** Sets the user's time zone (null: UTC); the cached user is invalidated once the row is written. */
  @CacheInvalidate({ namespace: 'user', key: (userId: number) => userId })
  async setTimezone(userId: number, timezone: string | null): Promise<boolean> {
    return this.repository.setTimezone(userId, timezone);
  }

  /**
   * The user as the database has it now, bypassing the cache (for the rare paths where the cached copy may lag: a
   * charge refused by the database although the cached balance looked sufficient); the cache is brought up to date.
   */
  async fromDatabase(userId: number): Promise<User | null> {
    const user = await this.repository.find(userId);
    if (user) await this.balanceChanged(userId, user.balance, user.balanceVersion);
    return user;
  }

  /**
   * After a charge committed: the cached user gets the new balance in place (no reload). A copy that already has a
   * newer balance (a concurrent charge finished first) is left alone.
   */
  async balanceChanged(userId: number, balance: string, balanceVersion: number): Promise<void> {
    await this.cache.update<User | null>('user', userId, (current) =>
      current && current.balanceVersion < balanceVersion ? { ...current, balance, balanceVersion } : current,
    );
  }
}
