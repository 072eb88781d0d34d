import { Module } from '@nestjs/common';
import { AdminTokenGuard } from '../auth/admin-token.guard.js';
import { UsersAdminController } from './users.admin.controller.js';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

/** Users, their balance and model. */
@Module({
  controllers: [UsersAdminController],
  providers: [UsersRepository, UsersService, AdminTokenGuard],
  exports: [UsersService],
})
export class UsersModule {}
