/** Request headers that make a response depend on who asks (lower case, as Node and Fastify expose them). */
export const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'] as const;

/**
 * The first credential header a request carries (for the log line), or undefined. Works on Express and Fastify
 * requests (both expose `headers` with lower-case names).
 * @example credentialOf({ headers: { authorization: 'Bearer x' } }) // 'an Authorization header'
 */
export function credentialOf(request: unknown): string | undefined {
  const headers = (request as { headers?: Record<string, unknown> } | undefined)?.headers;
  if (headers === undefined || headers === null || typeof headers !== 'object') return undefined;
  for (const name of CREDENTIAL_HEADERS) {
    const value = headers[name];
    if (value === undefined || value === '') continue;
    const title = titleCase(name);
    return `${/^[AEIOU]/.test(title) ? 'an' : 'a'} ${title} header`;
  }
  return undefined;
}

function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => `${dash}${c.toUpperCase()}`);
}
