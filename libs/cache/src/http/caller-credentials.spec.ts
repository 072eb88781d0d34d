import { describe, expect, it } from '@jest/globals';
import { credentialOf } from './caller-credentials.js';

describe('credentialOf', () => {
  it.each([
    [{ authorization: 'Bearer x' }, 'an Authorization header'],
    [{ cookie: 'sid=1' }, 'a Cookie header'],
    [{ 'proxy-authorization': 'Basic x' }, 'a Proxy-Authorization header'],
  ])('names the credential a request carries (%j)', (headers, expected) => {
    expect(credentialOf({ headers })).toBe(expected);
  });

  it.each([[{ headers: {} }], [{ headers: { authorization: '' } }], [{}], [undefined], [{ headers: null }]])(
    'is undefined without credentials (%j)',
    (request) => {
      expect(credentialOf(request)).toBeUndefined();
    },
  );
});
