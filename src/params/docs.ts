/** The README's parameter table, generated from the parameter table in schema.ts. */
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
  const rows = (Object.entries(PARAMETERS) as [ParameterName, (typeof PARAMETERS)[ParameterName]][]).map(
    ([name, p]) => `| \`${name}\` | ${cell(code(p.accepts))} | ${cell(p.default === 'required' || p.default === 'none' ? p.default : code(p.default))} | ${cell(p.description)} |`,
  );
  return ['| Parameter | Accepts | Default | Description |', '|---|---|---|---|', ...rows].join('\n');
}

/**
 * `readme` with the text between the params markers replaced by the table,
 * or null when the markers are missing.
 */
export function withParameterTable(readme: string): string | null {
  const start = readme.indexOf(PARAMS_START_MARKER);
  const end = readme.indexOf(PARAMS_END_MARKER, start);
  if (start < 0 || end < 0) return null;
  return `${readme.slice(0, start + PARAMS_START_MARKER.length)}\n${parameterTableMarkdown()}\n${readme.slice(end)}`;
}
