import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The build ships inside the Python package (kalashi_cli/bridge/static/), so `pip install`
// alone gives a working dashboard. `base: './'` keeps asset URLs relative, so the page works
// wherever the Python HTTP server mounts it. Content-hashed file names are deterministic for
// identical sources, and index.html is the manifest that names them.
export default defineConfig({
  plugins: [react()],
  base: './',
  build: {
    outDir: '../kalashi_cli/bridge/static',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // One small app: a single JS and a single CSS file keep the shipped tree easy to check.
    rolldownOptions: { output: { codeSplitting: false } },
  },
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
})
