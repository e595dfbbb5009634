import { expect } from 'chai';
import { parameterTableMarkdown, withParameterTable } from '../../../src/params/docs.js';
import { PARAMETER_NAMES } from '../../../src/params/schema.js';

describe('params/docs', () => {
  const table = parameterTableMarkdown();

  it('has a header and one row per parameter, each with four cells', () => {
    const lines = table.split('\n');
    expect(lines[0]).to.equal('| Parameter | Accepts | Default | Description |');
    expect(lines).to.have.length(PARAMETER_NAMES.length + 2);
    for (const [i, name] of PARAMETER_NAMES.entries()) {
      const row = lines[i + 2]!;
      expect(row.startsWith(`| \`${name}\` |`), row).to.equal(true);
      expect(row.replaceAll('\\|', '').split('|'), row).to.have.length(6);
    }
  });

  it('states defaults', () => {
    expect(table).to.match(/\| `timeout` \| [^\n]* \| `3600` \|/);
    expect(table).to.match(/\| `cap_drop` \| [^\n]* \| `\["ALL"\]` \|/);
  });

  it('replaces the text between the markers, and only that', () => {
    const readme = '# Title\n<!-- params:start -->\nold table\n<!-- params:end -->\nafter\n';
    expect(withParameterTable(readme)).to.equal(`# Title\n<!-- params:start -->\n${table}\n<!-- params:end -->\nafter\n`);
    expect(withParameterTable(withParameterTable(readme)!)).to.equal(withParameterTable(readme));
  });

  it('returns null without the markers', () => {
    expect(withParameterTable('# Title\n')).to.equal(null);
  });
});

describe('README.md', () => {
  it('carries the current parameter table (regenerate with npm run docs:params)', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(withParameterTable(readme)).to.equal(readme);
  });
});
