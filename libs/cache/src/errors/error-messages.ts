/** Every message tiercache emits, in one place, so wording stays consistent and secrets never slip in. */
export const ErrorMessages = {
  invalidOption: (path: string, value: string, expected: string) =>
    `tiercache: invalid option "${path}" = ${value}: expected ${expected}.`,
  invalidDuration: (path: string, value: string) =>
    `tiercache: invalid option "${path}" = ${value}: expected milliseconds (a non-negative finite number) or a string like '500ms', '30s', '5m', '1h', '1d'.`,
  unserializableKey: (what: string) =>
    `tiercache: cannot build a cache key from ${what}; the call bypasses the cache. Give the decorator a \`key\` function.`,
  valueTooLarge: (namespace: string, bytes: number, max: number) =>
    `tiercache: value of ${bytes} bytes exceeds namespace "${namespace}" maxValueBytes (${max}); not cached.`,
  decodeFailed: (reason: string) => `tiercache: stored entry could not be decoded (${reason}); treated as a miss.`,
  unserializableValue: (what: string) => `tiercache: value cannot be serialized (${what}); not cached.`,
  misuse: (where: string, problem: string, fix: string) => `tiercache: ${where}: ${problem}. Fix: ${fix}`,
  backendUnavailable: (backend: string, reason: string) => `tiercache: ${backend} backend unavailable (${reason}).`,
  timeout: (backend: string, op: string, ms: number) => `tiercache: ${backend} ${op} timed out after ${ms} ms.`,
  loaderTimeout: (ms: number) => `tiercache: the loader did not answer within the hard timeout (${ms} ms); it was cut.`,
  unknownNamespace: (namespace: string) =>
    `tiercache: namespace "${namespace}" must match /^[A-Za-z0-9_.-]{1,64}$/ (no ':' or glob characters).`,
} as const;
