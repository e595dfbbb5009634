/**
 * docs/library.md as an engine author copies from it: every TypeScript snippet type-checks under `strict` against
 * the package's own exports (src/index.ts), as the README's do.
 */
import { expect } from 'chai';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('docs/library.md', function () {
  it('every TypeScript snippet type-checks under strict against the package\'s exports', function () {
    this.timeout(60_000);
    const snippets = [...readFileSync(path.join(root, 'docs/library.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(snippets.length).to.be.greaterThan(2);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hw-library-doc-'));
    try {
      const files = snippets.map((code, i) => {
        const f = path.join(dir, `snippet${i}.mts`);
        writeFileSync(f, `${code}\nexport {};\n`);
        return f;
      });
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
