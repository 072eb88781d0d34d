/**
 * Settles like `promise`, or rejects with `Error(message + ' timed out after N ms')` once `timeoutMs` have passed.
 * The timer is cleared as soon as `promise` settles; a late rejection of `promise` stays handled.
 *
 * @example
 * await withTimeout(client.connect(), 200, 'connect to 127.0.0.1:6390');
 */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} timed out after ${timeoutMs} ms`)), Math.max(0, timeoutMs));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
