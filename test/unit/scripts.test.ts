/**
 * The package's test scripts run what their names say: `test:unit` only test/unit (no Docker,
 * no database), `test:integration` test/integration without the fault tests, `test:faults` only
 * those, and `npm test` all of them. Checked with mocha's --dry-run, which lists the tests a
 * script would run without running one.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The test files (relative to the project) a mocha command line would run. */
function dryRun(command: string): Promise<Set<string>> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', `${command} --dry-run --reporter json`], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 180_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${command}: ${err.message}\n${stderr.slice(-2000)}`));
      const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { tests: { file: string }[] };
      resolve(new Set(report.tests.map((t) => path.relative(ROOT, t.file))));
    });
  });
}

const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('package.json test scripts', function () {
  this.timeout(240_000);
  let unit: Set<string>;
  let integration: Set<string>;
  let faults: Set<string>;

  before(async () => {
    [unit, integration, faults] = await Promise.all([
      dryRun('npm run --silent test:unit --'),
      dryRun('npm run --silent test:integration --'),
      dryRun('npm run --silent test:faults --'),
    ]);
  });

  it('test:unit runs test/unit only', () => {
    expect(unit.size).to.be.greaterThan(10);
    expect([...unit].filter((f) => !f.startsWith('test/unit/'))).to.deep.equal([]);
  });

  it('test:integration runs test/integration without the fault tests; test:faults runs those', () => {
    expect(integration.size).to.be.greaterThan(10);
    expect([...integration].filter((f) => !f.startsWith('test/integration/') || f.startsWith('test/integration/faults/'))).to.deep.equal([]);
    expect(faults.size).to.be.greaterThan(3);
    expect([...faults].filter((f) => !f.startsWith('test/integration/faults/'))).to.deep.equal([]);
  });

  it('npm test builds, type-checks, and runs every test file', async () => {
    const steps = scripts['test']!.split('&&').map((s) => s.trim());
    expect(steps.slice(0, 2)).to.deep.equal(['npm run build', 'tsc --noEmit']);
    const all = await dryRun(`npx ${steps[2]!}`);
    expect([...all].sort()).to.deep.equal([...new Set([...unit, ...integration, ...faults])].sort());
  });
});
