import { BadRequestException, Injectable } from '@nestjs/common';
import type { PipeTransform } from '@nestjs/common';

/**
 * A Telegram id in a route (`/admin/users/:id`): an integer that fits a JavaScript number exactly (so also int8);
 * anything else is a 400, never a database error.
 */
@Injectable()
export class IdParamPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    const id = /^-?\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(id)) throw new BadRequestException('id must be an integer of at most 53 bits');
    return id;
  }
}
