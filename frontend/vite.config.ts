import { defineConfig } from "vitest/config";

// Built into frontend/dist and served by Flask (backend/app.py); `npm run dev` proxies the API
// and the socket to a server on :5000.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 6000 },
  worker: { format: "es" },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:5000",
      "/socket.io": { target: "http://127.0.0.1:5000", ws: true },
      "/healthz": "http://127.0.0.1:5000",
    },
  },
  test: { environment: "jsdom", include: ["tests/unit/**/*.test.ts"] },
});
