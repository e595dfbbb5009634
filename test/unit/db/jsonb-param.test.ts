import { expect } from 'chai';
import { jsonbParam } from '../../../src/db/jsonb-param.js';

/** The JSON text a jsonbParam carries. */
const text = (p: string | Buffer) => (typeof p === 'string' ? p : (expect(p[0]).to.equal(1), p.subarray(1).toString('utf8')));

describe('db/jsonb-param', () => {
  it('a value without big strings is JSON.stringify text, as before', () => {
    const v = { status: 'exited', stdout: 'hi\n', n: 1, a: [null, true] };
    expect(jsonbParam(v)).to.equal(JSON.stringify(v));
  });

  it('big strings are written as bytes: the same JSON as JSON.stringify, escapes and multi-byte text included', () => {
    const line = 'plain "quoted" back\\slash tab\t cr\r bell\u0007 é € 😀 \u001f end\n';
    const big = line.repeat(Math.ceil(200_000 / line.length));
    const ascii = 'x'.repeat(70_000);
    const v = { status: 'exited', stdout: big, stderr: ascii, nested: { list: [big, 'small', 3] }, kill: null };
    const p = jsonbParam(v);
    expect(Buffer.isBuffer(p)).to.equal(true);
    expect(text(p)).to.equal(JSON.stringify(v));
    expect(JSON.parse(text(p))).to.deep.equal(v);
  });

  it('a big string with a lone surrogate goes through JSON.stringify (its escape kept)', () => {
    const v = { stdout: 'a'.repeat(70_000) + '\ud800' };
    expect(text(jsonbParam(v))).to.equal(JSON.stringify(v));
  });
});
