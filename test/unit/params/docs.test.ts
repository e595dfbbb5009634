import { expect } from 'chai';
import { parameterTableMarkdown, parameterTablesMarkdown, withParameterTable } from '../../../src/params/docs.js';
import { PARAMETER_NAMES } from '../../../src/params/schema.js';

describe('params/docs', () => {
  const table = parameterTableMarkdown();

  it('has a header and one row per parameter, each with four cells', () => {
    const lines = table.split('\n');
    expect(lines[0]).to.equal('| Parameter | Accepts | Default | Description |');
    expect(lines).to.have.length(PARAMETER_NAMES.length + 2);
    for (const [i, name] of PARAMETER_NAMES.entries()) {
      const row = lines[i + 2]!;
      expect(row.startsWith(`| \`${name}\``), row).to.equal(true);
      expect(row.replaceAll('\\|', '').split('|'), row).to.have.length(6);
    }
  });

  it('states defaults', () => {
    expect(table).to.match(/\| `timeout` \| [^\n]* \| `3600` \|/);
    expect(table).to.match(/\| `cap_drop` \| [^\n]* \| `\["ALL"\]` \|/);
  });

  it('replaces the text between the markers, and only that', () => {
    const readme = '# Title\n<!-- params:start -->\nold table\n<!-- params:end -->\nafter\n';
    expect(withParameterTable(readme)).to.equal(`# Title\n<!-- params:start -->\n${parameterTablesMarkdown()}\n<!-- params:end -->\nafter\n`);
    expect(withParameterTable(withParameterTable(readme)!)).to.equal(withParameterTable(readme));
  });

  it('returns null without the markers', () => {
    expect(withParameterTable('# Title\n')).to.equal(null);
  });
});

describe('docs/parameters.md', () => {
  it('carries the current parameter tables (regenerate with npm run docs:params)', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(new URL('../../../docs/parameters.md', import.meta.url), 'utf8');
    expect(withParameterTable(doc), 'docs/parameters.md has no params markers').not.to.equal(null);
    expect(withParameterTable(doc)).to.equal(doc);
  });

  it('shows both names where docker-py has another, and every refused argument with its reason', () => {
    expect(parameterTableMarkdown()).to.include('| `memory_limit` (docker-py: `mem_limit`) |');
    expect(parameterTableMarkdown()).to.include('| `cpu_limit` (docker-py: `nano_cpus`) |');
    expect(parameterTableMarkdown()).to.include('| `auto_remove` (docker-py: `remove`) |');
    expect(parameterTablesMarkdown()).to.match(/\| `tty` \| output is captured as separate stdout and stderr streams/);
  });
});
