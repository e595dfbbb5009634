/**
 * Regenerates the parameter table in README.md (between `<!-- params:start -->` and
 * `<!-- params:end -->`) from the run parameter schema. Without a README or the
 * markers, prints the table to stdout.
 *
 * Usage: npx tsx scripts/gen-params-table.ts
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parameterTableMarkdown, withParameterTable } from '../src/params/docs.js';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const updated = existsSync(readmePath) ? withParameterTable(readFileSync(readmePath, 'utf8')) : null;

if (updated === null) {
  process.stdout.write(`${parameterTableMarkdown()}\n`);
} else {
  writeFileSync(readmePath, updated);
  console.error(`updated the parameter table in ${readmePath}`);
}
