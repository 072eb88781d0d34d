import { Global, Module } from '@nestjs/common';
import { AdminAttempts } from './admin-attempts.js';

/** What the admin guard shares across modules: the count of wrong tokens per client. */
@Global()
@Module({ providers: [AdminAttempts], exports: [AdminAttempts] })
export class AuthModule {}
