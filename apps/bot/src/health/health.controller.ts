import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import type { HealthCheckResult } from '@nestjs/terminus';
import { CacheHealthIndicator } from 'nestjs-tiercache/health';
import { DatabaseHealthIndicator } from './database.health.js';

/**
 * GET /health: 200 when every indicator is up, 503 otherwise (Terminus). `database` is critical; `cache` reports
 * Redis but an unreachable Redis only degrades it (the bot keeps answering from PostgreSQL).
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
    private readonly cache: CacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database.check('database'), () => this.cache.isHealthy('cache')]);
  }
}
