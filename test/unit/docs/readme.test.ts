/**
 * The README and docs/ as a newcomer meets them: short enough to read, every relative link lands on a file of the
 * repository, and every TypeScript snippet type-checks under `strict` against the package's own exports.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync, existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const docs = [path.join(root, 'README.md'), ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join(root, 'docs', f))];

function relativeLinks(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/i.test(l) && !l.startsWith('#'));
}

describe('README and docs', function () {
  it('the README is at most 250 lines', function () {
    expect(readFileSync(path.join(root, 'README.md'), 'utf8').split('\n').length).to.be.at.most(250);
  });

  it('every relative link resolves inside the repository', function () {
    const broken: string[] = [];
    for (const file of docs) {
      for (const link of relativeLinks(file)) {
        const target = path.resolve(path.dirname(file), link.split('#')[0]!);
        if (!target.startsWith(root) || !existsSync(target)) broken.push(`${path.relative(root, file)}: ${link}`);
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('every TypeScript snippet of the README and docs/ type-checks under strict against the package\'s exports', function () {
    this.timeout(240_000); // a whole tsc program: ~10 s alone, minutes on a loaded machine; the bound only catches a hang
    // The names the tool pages' fragments share (a registry, a caller's context, a run of an earlier fragment).
    const prelude = `import type { ToolRegistry, ActivityContext, DockerRunResult } from 'highway-docker';
declare global {
  const registry: ToolRegistry;
  const ctx: ActivityContext;
  const workflow_run_id: string;
  const activity_id: string;
  const run: DockerRunResult;
}
export {};
`;
    const snippets = docs.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m, i) => ({ name: `${path.basename(file, '.md')}-${i}`, code: m[1]! })),
    );
    expect(snippets.length).to.be.greaterThan(5);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hw-docs-'));
    try {
      writeFileSync(path.join(dir, 'prelude.d.mts'), prelude);
      const files = [path.join(dir, 'prelude.d.mts')].concat(
        snippets.map(({ name, code }) => {
          const f = path.join(dir, `${name}.mts`);
          writeFileSync(f, `${code}\nexport {};\n`);
          return f;
        }),
      );
      const program = ts.createProgram(files, {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [path.join(root, 'node_modules/@types')],
        baseUrl: root,
        paths: { 'highway-docker': [path.join(root, 'src/index.ts')] },
        allowImportingTsExtensions: true,
      });
      const errors = ts.getPreEmitDiagnostics(program).map((d) => {
        const where = d.file ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
        return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      expect(errors).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
