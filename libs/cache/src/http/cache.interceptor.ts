import { Inject, Injectable, Logger, Optional, StreamableFile } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { of, tap } from 'rxjs';
import type { Observable } from 'rxjs';
import type { Cache } from '../compat/cache-manager.interface.js';
import type { CacheKeyFactory } from '../compat/cache-key.decorator.js';
import type { CacheTtlFactory } from '../compat/cache-ttl.decorator.js';
import {
  CACHE_KEY_METADATA,
  CACHE_MANAGER,
  CACHE_SCOPE_METADATA,
  CACHE_TTL_METADATA,
} from '../compat/compat.constants.js';
import { LogMessages } from '../errors/error-messages.js';
import { composeKey } from '../keys/composite-key.js';
import type { CallerOf } from './cache-scope.decorator.js';
import { credentialOf } from './caller-credentials.js';

/**
 * Caches handler results, as @nestjs/cache-manager's interceptor: GET only (`allowedMethods`), key = the URL (or
 * `@CacheKey`), TTL from `@CacheTTL` (handler, then controller), `X-Cache: HIT|MISS`; `trackBy` and
 * `isRequestCacheable` can be overridden. Safe by default: a request carrying credentials (Authorization, Cookie)
 * is not cached unless the route declares `@CacheScope('public')` or a per-caller `@CacheScope(fn)`.
 * @example @UseInterceptors(CacheInterceptor) @Controller('posts') export class PostsController {}
 */
@Injectable()
export class CacheInterceptor implements NestInterceptor {
  @Optional()
  @Inject(HttpAdapterHost)
  protected readonly httpAdapterHost?: HttpAdapterHost;

  /** HTTP methods whose responses are cached. @default ['GET'] */
  protected allowedMethods = ['GET'];
  private readonly logger = new Logger('CacheInterceptor');
  private readonly warned = new Set<string>();

  constructor(
    @Inject(CACHE_MANAGER) protected readonly cacheManager: Cache,
    protected readonly reflector: Reflector,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const tracked = await this.trackBy(context);
    if (!tracked) return next.handle();
    const key = await this.scopedKey(context, tracked);
    if (key === undefined) return next.handle();
    const ttlOrFactory =
      this.reflector.get<number | CacheTtlFactory | undefined>(CACHE_TTL_METADATA, context.getHandler()) ??
      this.reflector.get<number | CacheTtlFactory | undefined>(CACHE_TTL_METADATA, context.getClass());
    try {
      const value = await this.cacheManager.get(key);
      this.setHeadersWhenHttp(context, value);
      if (value !== undefined && value !== null) return of(value);
      const ttl = typeof ttlOrFactory === 'function' ? await ttlOrFactory(context) : ttlOrFactory;
      return next.handle().pipe(
        tap((response: unknown) => {
          if (response instanceof StreamableFile || response === undefined) return;
          this.cacheManager
            .set(key, response, ttl ?? undefined)
            .catch((err: unknown) => this.logger.error(LogMessages.compatSetFailed(key, err)));
        }),
      );
    } catch {
      return next.handle();
    }
  }

  /** The cache key of a request (undefined: not cached): `@CacheKey`, else the URL of a cacheable HTTP request. */
  protected trackBy(context: ExecutionContext): string | undefined | Promise<string | undefined> {
    const httpAdapter = this.httpAdapterHost?.httpAdapter;
    const isHttpApp = httpAdapter !== undefined && typeof httpAdapter.getRequestMethod === 'function';
    const keyOrFactory = this.reflector.get<string | CacheKeyFactory | undefined>(
      CACHE_KEY_METADATA,
      context.getHandler(),
    );
    if (!isHttpApp || keyOrFactory) return typeof keyOrFactory === 'function' ? keyOrFactory(context) : keyOrFactory;
    if (!this.isRequestCacheable(context)) return undefined;
    return httpAdapter.getRequestUrl(context.getArgByIndex(0)) as string;
  }

  /** Whether a request may be cached at all (its method is in `allowedMethods`). */
  protected isRequestCacheable(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ method?: string }>();
    return this.allowedMethods.includes(req.method ?? '');
  }

  /** Sets `X-Cache: HIT|MISS` on HTTP responses. */
  protected setHeadersWhenHttp(context: ExecutionContext, value: unknown): void {
    const httpAdapter = this.httpAdapterHost?.httpAdapter;
    if (!httpAdapter || context.getType() !== 'http') return;
    const response: unknown = context.switchToHttp().getResponse();
    httpAdapter.setHeader(response, 'X-Cache', value === undefined || value === null ? 'MISS' : 'HIT');
  }

  /**
   * Applies `@CacheScope`: with a caller function the key names the caller; without a scope, a request carrying
   * credentials is not cached (undefined), logged once per route with the fix.
   */
  private async scopedKey(context: ExecutionContext, key: string): Promise<string | undefined> {
    const scope =
      this.reflector.get<'public' | CallerOf | undefined>(CACHE_SCOPE_METADATA, context.getHandler()) ??
      this.reflector.get<'public' | CallerOf | undefined>(CACHE_SCOPE_METADATA, context.getClass());
    if (scope === 'public') return key;
    const credential = context.getType() === 'http' ? credentialOf(context.switchToHttp().getRequest()) : undefined;
    if (typeof scope === 'function') {
      const caller: unknown = await scope(context);
      if (caller === undefined || caller === null || caller === '') return credential ? undefined : composeKey(key, '');
      if (typeof caller !== 'string' && typeof caller !== 'number' && typeof caller !== 'bigint') return undefined;
      return composeKey(key, typeof caller === 'string' ? caller : String(caller));
    }
    if (credential === undefined) return key;
    const route = `${context.getClass().name}#${context.getHandler().name}`;
    if (!this.warned.has(route)) {
      this.warned.add(route);
      this.logger.warn(LogMessages.callerDependentNotCached(route, credential));
    }
    return undefined;
  }
}
