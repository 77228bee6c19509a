// Debounced autosave: each key (a cell's source, the title) keeps only its latest value and is
// written `delay` ms after the last edit; writes of one key never overlap. `flush()` writes
// everything pending now (before a run, before leaving the page). The state (saved / saving /
// unsaved / failed) is reported to a listener for the "saved" indicator. A failed write (the server
// is down or restarting) is retried by itself with backoff -- 1 s, 2 s, 4 s, then every 8 s -- until
// the server answers, so an edit typed while it was away is stored without another keystroke.

export type SaveState = "saved" | "saving" | "unsaved" | "failed";

type Writer = (opts: { keepalive: boolean }) => Promise<unknown>;

interface Entry {
  write: Writer;
  timer: ReturnType<typeof setTimeout> | null;
  inFlight: Promise<void> | null;
  dirty: boolean;
  attempts: number; // failed writes in a row
}

export class AutoSaver {
  private entries = new Map<string, Entry>();
  private failed = false;
  private lastError: string | null = null;

  constructor(
    private onState: (state: SaveState, error: string | null) => void,
    private delay = 700,
    private retryBase = 1000,
    private retryMax = 8000,
  ) {}

  /** Remember that `key` must be written by `write` (replacing any earlier pending write). */
  schedule(key: string, write: Writer): void {
    let e = this.entries.get(key);
    if (!e) {
      e = { write, timer: null, inFlight: null, dirty: true, attempts: 0 };
      this.entries.set(key, e);
    }
    e.write = write;
    e.dirty = true;
    if (e.timer) clearTimeout(e.timer);
    e.timer = setTimeout(() => void this.run(key), this.delay);
    this.report();
  }

  /** Forget a pending write (e.g. the cell was deleted). */
  cancel(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.timer) clearTimeout(e.timer);
    e.dirty = false;
    if (!e.inFlight) this.entries.delete(key);
    this.report();
  }

  /** Write everything pending now; resolves when all writes finished (rejects if one failed). */
  async flush(opts: { keepalive?: boolean } = {}): Promise<void> {
    const runs: Promise<void>[] = [];
    for (const key of [...this.entries.keys()]) runs.push(this.run(key, opts.keepalive ?? false));
    await Promise.all(runs);
    if (this.failed) throw new Error(this.lastError ?? "could not save");
  }

  get pending(): boolean {
    for (const e of this.entries.values()) if (e.dirty || e.inFlight) return true;
    return false;
  }

  private async run(key: string, keepalive = false): Promise<void> {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.timer) {
      clearTimeout(e.timer);
      e.timer = null;
    }
    while (e.inFlight) await e.inFlight;
    if (!e.dirty) {
      if (this.entries.get(key) === e && !e.inFlight) this.entries.delete(key);
      return;
    }
    e.dirty = false;
    const write = e.write;
    e.inFlight = (async () => {
      this.report();
      try {
        await write({ keepalive });
        this.failed = false;
        this.lastError = null;
        e.attempts = 0;
      } catch (err) {
        this.failed = true;
        this.lastError = (err as Error).message;
        e.dirty = true; // tried again by itself (below), on the next edit or on flush
        e.attempts += 1;
        if (!e.timer && this.entries.get(key) === e) {
          const wait = Math.min(this.retryMax, this.retryBase * 2 ** (e.attempts - 1));
          e.timer = setTimeout(() => void this.run(key), wait);
        }
      }
    })();
    await e.inFlight;
    e.inFlight = null;
    if (!e.dirty && !e.timer && this.entries.get(key) === e) this.entries.delete(key);
    this.report();
  }

  private report(): void {
    let saving = false;
    let unsaved = false;
    for (const e of this.entries.values()) {
      if (e.inFlight) saving = true;
      else if (e.dirty) unsaved = true;
    }
    if (saving) this.onState("saving", null);
    else if (this.failed) this.onState("failed", this.lastError);
    else if (unsaved) this.onState("unsaved", null);
    else this.onState("saved", null);
  }
}
