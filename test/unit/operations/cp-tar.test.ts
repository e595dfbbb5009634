/**
 * The tar reading and extraction of tools.docker.cp, on archives built here (no Docker): ustar
 * names with a prefix, PAX and GNU long names, hard links; names that would leave DEST refused.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { extract, tarEntries } from '../../../src/operations/cp.js';
import { HighwayError } from '../../../src/errors.js';

/** One tar entry: a 512-byte header (ustar) and its data padded to 512. */
function entry(name: string, flag: string, data: Buffer | string = '', o: { linkname?: string; prefix?: string; mode?: number } = {}): Buffer {
  const body = Buffer.from(data);
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write((o.mode ?? 0o644).toString(8).padStart(7, '0') + '\0', 100, 'ascii');
  h.write(body.length.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write(flag, 156, 'ascii');
  if (o.linkname) h.write(o.linkname, 157, 100, 'utf8');
  h.write('ustar\0' + '00', 257, 'latin1');
  if (o.prefix) h.write(o.prefix, 345, 155, 'utf8');
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([h, body, pad]);
}
const end = () => Buffer.alloc(1024);
const pax = (records: Record<string, string>) =>
  Object.entries(records)
    .map(([k, v]) => {
      const rest = ` ${k}=${v}\n`;
      let len = rest.length + 1;
      while (`${len}${rest}`.length !== len) len = `${len}${rest}`.length;
      return `${len}${rest}`;
    })
    .join('');

describe('cp: tar reading and extraction', () => {
  const long = `d/${'x'.repeat(150)}/file`;

  it('reads files, directories, links; ustar prefixes, PAX and GNU long names; hard links carry their bytes', () => {
    const tar = Buffer.concat([
      entry('d/', '5', '', { mode: 0o755 }),
      entry('a', '0', 'alpha', { prefix: 'd', mode: 0o600 }),
      entry('PaxHeader', 'x', pax({ path: long })),
      entry('ignored-short-name', '0', 'long!'),
      entry('././@LongLink', 'L', `d/${'y'.repeat(120)}\0`),
      entry('ignored-too', '0', 'gnu'),
      entry('d/hard', '1', '', { linkname: 'd/a' }),
      entry('d/link', '2', '', { linkname: 'a' }),
      end(),
    ]);
    const entries = tarEntries(tar);
    expect(entries.map((e) => `${e.type}:${e.name}:${e.data.toString()}`)).to.deep.equal([
      'directory:d:',
      'file:d/a:alpha',
      `file:${long}:long!`,
      `file:d/${'y'.repeat(120)}:gnu`,
      'file:d/hard:alpha',
      'symlink:d/link:',
    ]);
    expect(entries[1]!.mode).to.equal(0o600);
    expect(entries[5]!.linkname).to.equal('a');
  });

  it('extracts under DEST (renaming the top entry), and refuses a name that would leave it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hw-cp-tar-'));
    try {
      await extract(tarEntries(Buffer.concat([entry('d/', '5'), entry('d/a', '0', 'alpha'), end()])), dir, 'renamed');
      expect(await readFile(path.join(dir, 'renamed', 'a'), 'utf8')).to.equal('alpha');
      const evil = tarEntries(Buffer.concat([entry('d/../../escape', '0', 'x'), end()]));
      let refused: unknown = null;
      await extract(evil, path.join(dir, 'inner'), null).catch((err: unknown) => (refused = err));
      expect(refused).to.be.instanceOf(HighwayError);
      expect((refused as HighwayError).message).to.match(/unsafe name/);
      expect(await readdir(dir)).to.deep.equal(['renamed']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
