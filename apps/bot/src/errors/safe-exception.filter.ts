import { Catch, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { sqlState } from '../database/database.js';

interface RequestLike {
  method?: string;
  route?: { path?: string };
  body?: unknown;
}

interface ResponseLike {
  status(code: number): { json(body: unknown): void };
}

/**
 * Every error that is not an HttpException: logged without user content — the SQLSTATE, the route and the update id,
 * never the message of a database error (pg puts values and parameters in it). A database *data exception*
 * (SQLSTATE class 22: bad encoding, out-of-range number or date) is bad input that slipped past validation: 400,
 * so Telegram does not redeliver it forever. Anything else: 500.
 */
@Catch()
export class SafeExceptionFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Errors');

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (exception instanceof HttpException || host.getType() !== 'http') {
      super.catch(exception, host);
      return;
    }
    const request = host.switchToHttp().getRequest<RequestLike>();
    const response = host.switchToHttp().getResponse<ResponseLike>();
    const where = `${request.method ?? '?'} ${request.route?.path ?? '?'}${updateId(request.body)}`;
    const code = sqlState(exception);
    if (code?.startsWith('22')) {
      this.logger.warn(`database refused the input (SQLSTATE ${code}) on ${where}`);
      response.status(HttpStatus.BAD_REQUEST).json({ statusCode: 400, message: 'invalid input', error: 'Bad Request' });
      return;
    }
    if (code !== undefined) this.logger.error(`database error SQLSTATE ${code} on ${where}`);
    else
      this.logger.error(
        `${exception instanceof Error ? exception.name : typeof exception} on ${where}`,
        exception instanceof Error ? exception.stack?.split('\n').slice(1).join('\n') : undefined,
      );
    response.status(HttpStatus.INTERNAL_SERVER_ERROR).json({ statusCode: 500, message: 'Internal server error' });
  }
}

function updateId(body: unknown): string {
  const id = typeof body === 'object' && body !== null ? (body as { update_id?: unknown }).update_id : undefined;
  return typeof id === 'number' && Number.isSafeInteger(id) ? ` (update ${id})` : '';
}
