import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AutoSaver, type SaveState } from "../../src/notebook/autosave";

describe("AutoSaver", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("retries a failed write with backoff until the server answers, then says saved", async () => {
    const states: SaveState[] = [];
    const saver = new AutoSaver((s) => states.push(s), 700, 1000, 8000);
    let up = false;
    const calls: number[] = [];
    const write = vi.fn(async () => {
      calls.push(Date.now());
      if (!up) throw new Error("server unreachable");
    });
    saver.schedule("cell:1", write);
    await vi.advanceTimersByTimeAsync(700); // the debounced write: fails
    expect(write).toHaveBeenCalledTimes(1);
    expect(states.at(-1)).toBe("failed");
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000 + 8000 + 8000); // retries at +1, +2, +4, +8, +8 s
    expect(write).toHaveBeenCalledTimes(6);
    const gaps = calls.slice(1).map((t, i) => t - calls[i]);
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 8000]);
    up = true; // the server is back: stored within one retry interval, no keystroke needed
    await vi.advanceTimersByTimeAsync(8000);
    expect(write).toHaveBeenCalledTimes(7);
    expect(states.at(-1)).toBe("saved");
    expect(saver.pending).toBe(false);
    await vi.advanceTimersByTimeAsync(60000); // and nothing more is written
    expect(write).toHaveBeenCalledTimes(7);
  });

  it("a new edit while retrying writes the newest value, and cancel stops the retries", async () => {
    const saver = new AutoSaver(() => {}, 700, 1000, 8000);
    const first = vi.fn(async () => {
      throw new Error("down");
    });
    saver.schedule("title", first);
    await vi.advanceTimersByTimeAsync(700);
    const second = vi.fn(async () => {});
    saver.schedule("title", second);
    await vi.advanceTimersByTimeAsync(700);
    expect(second).toHaveBeenCalledTimes(1);
    expect(first).toHaveBeenCalledTimes(1);
    const third = vi.fn(async () => {
      throw new Error("down");
    });
    saver.schedule("cell:2", third);
    await vi.advanceTimersByTimeAsync(700);
    saver.cancel("cell:2");
    await vi.advanceTimersByTimeAsync(30000);
    expect(third).toHaveBeenCalledTimes(1);
  });
});
