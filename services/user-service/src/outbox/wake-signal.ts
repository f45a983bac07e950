/**
 * Lets a loop sleep until it is woken or a timeout passes, whichever is first. A wake that
 * arrives while the loop is busy is remembered, so no notification is lost between two sleeps.
 */
export class WakeSignal {
  #pending = false;
  #wake: (() => void) | undefined;

  wake(): void {
    this.#pending = true;
    this.#wake?.();
  }

  async sleep(timeoutMs: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.#wake = undefined;
    this.#pending = false;
  }
}
