import { Body, Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { AdminTokenGuard } from '../auth/admin-token.guard.js';
import { IdParamPipe } from '../auth/id-param.pipe.js';
import { RequestBody } from '../auth/request-body.js';
import type { Credit, Payment } from './payment.js';
import { PaymentsRepository } from './payments.repository.js';
import { MAX_TOP_UP, PaymentsService } from './payments.service.js';

/** Admin ledger operations: top-up, refund of a charge, and the user's latest ledger rows. */
@Controller('admin/users/:id')
@UseGuards(AdminTokenGuard)
export class PaymentsAdminController {
  constructor(
    private readonly payments: PaymentsService,
    private readonly repository: PaymentsRepository,
  ) {}

  /** Body: `{ "amount": "5.00", "note"?: "..." }`. */
  @Post('top-up')
  @HttpCode(200)
  async topUp(@Param('id', IdParamPipe) id: number, @Body() body: unknown): Promise<Credit> {
    const fields = RequestBody.object(body);
    return this.payments.topUp(
      id,
      RequestBody.amount(fields, 'amount', MAX_TOP_UP),
      RequestBody.optionalText(fields, 'note'),
    );
  }

  /** Body: `{ "chargeId": 17, "note"?: "..." }` — gives that charge back, once. */
  @Post('refund')
  @HttpCode(200)
  async refund(@Param('id', IdParamPipe) id: number, @Body() body: unknown): Promise<Credit> {
    const fields = RequestBody.object(body);
    return this.payments.refund(
      id,
      RequestBody.positiveInt(fields, 'chargeId'),
      RequestBody.optionalText(fields, 'note'),
    );
  }

  @Get('payments')
  async latest(@Param('id', IdParamPipe) id: number): Promise<Payment[]> {
    return this.repository.latest(id, 50);
  }
}
