/**
 * Runs tasks with the same key one after another (in arrival order) and tasks with different keys in parallel.
 * The conversation uses it per thread, so each reply sees the previous exchange and history appends stay in order.
 * @example await lock.run('42:0', () => handle(message))
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    // Each tail is settled (errors caught below), so the task runs once the previous one finished either way.
    const current = previous.then(task);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
