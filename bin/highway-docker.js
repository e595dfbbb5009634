#!/usr/bin/env node
// The command line. The TypeScript sources are compiled to dist/ by `npm run build`
// (npm ci runs it through the prepare script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('highway-docker: dist/ is missing; run `npm run build` (npm ci does it) first\n');
  process.exit(125);
}
await import(entry.href);
