/**
 * Regenerates the parameter tables in docs/parameters.md (between `<!-- params:start -->` and
 * `<!-- params:end -->`) from the run parameter schema. Without the file or the markers, prints
 * the tables to stdout.
 *
 * Usage: npm run docs:params
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parameterTablesMarkdown, withParameterTable } from '../src/params/docs.js';

const docPath = fileURLToPath(new URL('../docs/parameters.md', import.meta.url));
const updated = existsSync(docPath) ? withParameterTable(readFileSync(docPath, 'utf8')) : null;

if (updated === null) {
  process.stdout.write(`${parameterTablesMarkdown()}\n`);
} else {
  writeFileSync(docPath, updated);
  console.error(`updated the parameter tables in ${docPath}`);
}
