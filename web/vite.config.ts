import { defineConfig } from 'vite';
import { resolve } from 'node:path';

// Two pages: the console at / and the WeCom sidebar at /sidebar/. No inline scripts or styles, so the pages run
// under the local host's Content-Security-Policy (script-src 'self').
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        console: resolve(import.meta.dirname, 'index.html'),
        sidebar: resolve(import.meta.dirname, 'sidebar/index.html'),
      },
    },
  },
  server: { proxy: { '/api': 'http://127.0.0.1:7071' } },
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
