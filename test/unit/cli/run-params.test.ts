import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildParams, type RunOptions } from '../../../src/cli/run.js';
import { parseRunParams } from '../../../src/params/schema.js';

describe('cli run: -e merges with --params', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hw-params-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function build(params: Record<string, unknown>, env: string[]) {
    const file = join(dir, `p-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify(params));
    const opts: RunOptions = { databaseUrl: 'unused', tenant: 'default', params: file, env };
    return parseRunParams(await buildParams(undefined, [], opts, 256 * 1024)).environment;
  }

  it('with a list-form environment (docker-py\'s ["K=V"]): -e adds and wins', async () => {
    expect(await build({ image: 'alpine', environment: ['A=1', 'B=from-params'] }, ['B=from-e', 'C=3'])).to.deep.equal({ A: '1', B: 'from-e', C: '3' });
  });

  it('with an object environment: -e adds and wins', async () => {
    expect(await build({ image: 'alpine', environment: { A: '1', B: 'from-params' } }, ['B=from-e'])).to.deep.equal({ A: '1', B: 'from-e' });
  });
});
