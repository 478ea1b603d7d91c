/**
 * Waiting for a change in a segment directory without polling it hot. Consumers that wait for this host's shared
 * download used to look every 20 ms; measured in `./coop bench weights`, that cost a waiting consumer ~2% of a
 * core for the whole download (a directory listing, a failed exclusive create and a read per look) — CPU the
 * downloader's receive and hash needed on a 2-core host. An inotify watch (`Deno.watchFs`) wakes the waiter when a
 * file there is created, renamed or removed (the sidecar that completes a segment, a released lock); a slow timer
 * stays as the fallback for what makes no event, such as the lock holder dying.
 */

/** Wakes on the next change in one directory, or after a timeout. */
export class DirWaiter {
  readonly #watcher: Deno.FsWatcher | undefined;
  readonly #events: AsyncIterator<Deno.FsEvent> | undefined;
  #next: Promise<unknown> | undefined;

  constructor(dir: string) {
    try {
      this.#watcher = Deno.watchFs(dir, { recursive: false });
      this.#events = this.#watcher[Symbol.asyncIterator]();
    } catch { /* no watch here (permissions, platform): the timer alone */ }
  }

  /** True when changes wake the waiter (else only the timer does). */
  get watching(): boolean {
    return this.#events !== undefined;
  }

  /** Resolves on the next change, or after `timeoutMs` (`pollMs` without a watch). */
  async wait(timeoutMs: number, pollMs = 20): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise((resolve) => timer = setTimeout(resolve, this.#events ? timeoutMs : pollMs));
    if (this.#events !== undefined) {
      // One read outstanding at a time: a change that lands between waits still wakes the next one.
      this.#next ??= this.#relevant().then(() => this.#next = undefined, () => this.#next = undefined);
    }
    try {
      await Promise.race(this.#next === undefined ? [timeout] : [this.#next, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The next event that can end a wait: not a write into a part file (a download in `write` mode makes one per
   * chunk) nor a read — a sidecar appears by rename, a lock goes by removal.
   */
  async #relevant(): Promise<void> {
    while (true) {
      const next = await this.#events!.next();
      if (next.done) return;
      const { kind, paths } = next.value;
      if (kind === "access" || (kind === "modify" && paths.every((p) => p.endsWith(".part")))) continue;
      return;
    }
  }

  close(): void {
    try {
      this.#watcher?.close();
    } catch { /* closed */ }
  }
}
