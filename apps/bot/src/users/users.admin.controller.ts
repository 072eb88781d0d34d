import { Controller, Get, NotFoundException, Param, UseGuards } from '@nestjs/common';
import { AdminTokenGuard } from '../auth/admin-token.guard.js';
import { IdParamPipe } from '../auth/id-param.pipe.js';
import { Money } from '../users/money.js';
import type { User } from './user.js';
import { UsersService } from './users.service.js';

/** GET /admin/users/:id — the user as the bot sees it (through the cache). */
@Controller('admin/users')
@UseGuards(AdminTokenGuard)
export class UsersAdminController {
  constructor(private readonly users: UsersService) {}

  @Get(':id')
  async view(@Param('id', IdParamPipe) id: number): Promise<User & { balanceText: string }> {
    const user = await this.users.getUser(id);
    if (!user) throw new NotFoundException(`user ${id} not found`);
    return { ...user, balanceText: Money.format(user.balance) };
  }
}
