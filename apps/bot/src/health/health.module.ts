import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CacheHealthModule } from 'nestjs-tiercache/health';
import { DatabaseHealthIndicator } from './database.health.js';
import { HealthController } from './health.controller.js';

/** Health checks (Terminus): the database, and the cache's Redis from nestjs-tiercache. */
@Module({
  imports: [TerminusModule, CacheHealthModule.forRoot({ critical: false, timeout: '1s' })],
  controllers: [HealthController],
  providers: [DatabaseHealthIndicator],
})
export class HealthModule {}
