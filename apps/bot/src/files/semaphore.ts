/**
 * At most `permits` tasks at once; the others wait in arrival order.
 * @example await semaphore.run(() => download(file))
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly permits: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.permits) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      // The permit passes straight to the next waiter (active stays the same), or is given back.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
