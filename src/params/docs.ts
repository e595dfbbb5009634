/** The parameter tables of docs/parameters.md, generated from the parameter table in schema.ts and the refusals in refused.ts. */
import { ALIASES, REFUSED_ARGUMENTS } from './refused.js';
import { PARAMETERS, type ParameterName } from './schema.js';

export const PARAMS_START_MARKER = '<!-- params:start -->';
export const PARAMS_END_MARKER = '<!-- params:end -->';

/** Markdown-safe table cell: pipes escaped, no line breaks. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replace(/\s*\n\s*/g, ' ');
}

/** Wraps literal shapes in code spans unless they already contain markdown. */
function code(text: string): string {
  return text.includes('`') ? text : `\`${text}\``;
}

/** A markdown table of every run parameter: name, accepted shapes, default, description. */
export function parameterTableMarkdown(): string {
  const rows = (Object.entries(PARAMETERS) as [ParameterName, (typeof PARAMETERS)[ParameterName]][]).map(([name, p]) => {
    const alias = 'alias' in p && p.alias ? ` (docker-py: \`${p.alias}\`)` : '';
    return `| \`${name}\`${alias} | ${cell(code(p.accepts))} | ${cell(p.default === 'required' || p.default === 'none' ? p.default : code(p.default))} | ${cell(p.description)} |`;
  });
  return ['| Parameter | Accepts | Default | Description |', '|---|---|---|---|', ...rows].join('\n');
}

/** A markdown table of the docker-py arguments this tool refuses, with why and what to use instead. */
export function refusedTableMarkdown(): string {
  const rows = Object.entries(REFUSED_ARGUMENTS).map(([name, reason]) => `| \`${name}\` | ${cell(reason)} |`);
  const streams = '| `stdout`, `stderr` | `true` is accepted (the result always carries both streams, separately); `false` is refused: ignore the stream you do not need |';
  return ['| docker-py argument | Why not, and what instead |', '|---|---|', ...rows, streams].join('\n');
}

/** Both tables, as they stand between the markers. */
export function parameterTablesMarkdown(): string {
  const aliases = Object.entries(ALIASES)
    .map(([alias, name]) => `\`${alias}\` = \`${name}\``)
    .join(', ');
  return [
    parameterTableMarkdown(),
    '',
    `docker-py's names for three settings are accepted too (${aliases}); giving both names of one setting is an error naming both.`,
    '',
    '### docker-py arguments not offered',
    '',
    refusedTableMarkdown(),
  ].join('\n');
}

/**
 * `readme` (docs/parameters.md) with the text between the params markers replaced by the tables,
 * or null when the markers are missing.
 */
export function withParameterTable(readme: string): string | null {
  const start = readme.indexOf(PARAMS_START_MARKER);
  const end = readme.indexOf(PARAMS_END_MARKER, start);
  if (start < 0 || end < 0) return null;
  return `${readme.slice(0, start + PARAMS_START_MARKER.length)}\n${parameterTablesMarkdown()}\n${readme.slice(end)}`;
}
