// Web Worker: runs the graph layout off the main thread. Message in: {id, input}; out: {id, output}.
import { layoutGraph, type LayoutInput } from "./layout";

interface Req {
  id: number;
  input: LayoutInput;
}

self.onmessage = (ev: MessageEvent<Req>) => {
  const { id, input } = ev.data;
  try {
    const output = layoutGraph(input);
    (self as unknown as Worker).postMessage({ id, output });
  } catch (e) {
    (self as unknown as Worker).postMessage({ id, error: String(e) });
  }
};
