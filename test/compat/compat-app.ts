// Boots a Nest HTTP app (Express or Fastify) around a module for the nestjs-tiercache/compat e2e suites.
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';

export type Platform = 'express' | 'fastify';
export const PLATFORMS: readonly Platform[] = ['express', 'fastify'];

export interface CompatApp {
  app: INestApplication;
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/** Compiles `metadata` into an app on `platform`, initialized and ready for supertest. */
export async function bootHttp(metadata: ModuleMetadata, platform: Platform = 'express'): Promise<CompatApp> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app: INestApplication =
    platform === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: ['error'] })
      : moduleRef.createNestApplication({ logger: ['error'] });
  await app.init();
  if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return { app, http: () => request(app.getHttpServer()), close: () => app.close() };
}
