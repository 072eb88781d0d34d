import { Module } from '@nestjs/common';
import { AdminTokenGuard } from '../auth/admin-token.guard.js';
import { PaymentsAdminController } from './payments.admin.controller.js';
import { PaymentsRepository } from './payments.repository.js';
import { PaymentsService } from './payments.service.js';

/** The payments ledger: Telegram payments, admin top-ups, refunds (charges are written with each exchange). */
@Module({
  controllers: [PaymentsAdminController],
  providers: [PaymentsRepository, PaymentsService, AdminTokenGuard],
  exports: [PaymentsService],
})
export class PaymentsModule {}
