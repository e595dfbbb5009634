import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { readFirstFile, tarFiles } from '../../../src/docker/archive.js';

/** Feed `buf` in small chunks (as a socket would). */
function streamOf(buf: Buffer, chunk = 700): PassThrough {
  const s = new PassThrough();
  setImmediate(() => {
    for (let i = 0; i < buf.length; i += chunk) s.write(buf.subarray(i, i + chunk));
    s.end();
  });
  return s;
}

describe('docker/archive: the tar the archive API takes and gives', () => {
  it('writes files GNU tar extracts as written: content, mode, owner, and a name longer than 100 bytes (PAX)', function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hw-archive-'));
    try {
      const long = `in/${'d'.repeat(60)}/${'e'.repeat(60)}/file.txt`;
      const tar = tarFiles([
        { name: 'in/a.txt', content: Buffer.from('alpha\n'), mode: 0o640, uid: 1234, gid: 2345 },
        { name: long, content: Buffer.from([0, 255, 10]), mode: 0o600, uid: 0, gid: 0 },
      ]);
      expect(tar.length % 512).to.equal(0);
      writeFileSync(path.join(dir, 'x.tar'), tar);
      const listing = execFileSync('tar', ['-tvf', path.join(dir, 'x.tar'), '--numeric-owner']).toString();
      expect(listing).to.match(/-rw-r----- 1234\/2345\s+6 .* in\/a\.txt/);
      expect(listing).to.include(long);
      execFileSync('tar', ['-xf', path.join(dir, 'x.tar'), '-C', dir]);
      expect(readFileSync(path.join(dir, 'in/a.txt'), 'utf8')).to.equal('alpha\n');
      expect([...readFileSync(path.join(dir, long))]).to.deep.equal([0, 255, 10]);
      expect(statSync(path.join(dir, long)).mode & 0o777).to.equal(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the first file back, stops at a file over the bound, and names what is not a file', async () => {
    const content = Buffer.alloc(5000, 'x');
    const tar = tarFiles([{ name: `${'n'.repeat(120)}.json`, content, mode: 0o644, uid: 0, gid: 0 }]);
    const read = await readFirstFile(streamOf(tar), 5000);
    expect(read.kind).to.equal('file');
    expect(read.kind === 'file' && read.content.equals(content)).to.equal(true);
    expect(await readFirstFile(streamOf(tar), 4999)).to.deep.equal({ kind: 'too_large', size: 5000 });
    const dirEntry = Buffer.from(tar); // the same header, typed as a directory
    dirEntry[512 * 2 + 156] = '5'.charCodeAt(0); // after the PAX header and its one data block: the file's header
    // (the checksum is not verified by the reader; Docker's own archives are well-formed)
    expect((await readFirstFile(streamOf(dirEntry), 5000)).kind).to.equal('not_a_file');
  });
});
