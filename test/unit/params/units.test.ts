import { expect } from 'chai';
import { parseDuration, parseSize, shellSplit } from '../../../src/params/units.js';

describe('params/units', () => {
  describe('parseSize', () => {
    const cases: [number | string, number][] = [
      [0, 0],
      [1048576, 1048576],
      ['100b', 100],
      ['100', 100],
      ['64k', 64 * 1024],
      ['512m', 512 * 1024 ** 2],
      ['512MB', 512 * 1024 ** 2],
      ['1g', 1024 ** 3],
      ['1.5G', 1.5 * 1024 ** 3],
      ['2GiB', 2 * 1024 ** 3],
      ['1t', 1024 ** 4],
    ];
    for (const [input, bytes] of cases) {
      it(`reads ${JSON.stringify(input)} as ${bytes} bytes`, () => expect(parseSize(input)).to.equal(bytes));
    }

    for (const bad of ['12q', '', 'm', '-5m', '1.5.5g', 'one gig']) {
      it(`refuses ${JSON.stringify(bad)} with a hint`, () => {
        expect(() => parseSize(bad)).to.throw(/is not a size; use bytes or e\.g\. "512m", "1g"/);
      });
    }

    it('refuses negative and fractional byte counts', () => {
      expect(() => parseSize(-1)).to.throw(/not a size/);
      expect(() => parseSize(1.5)).to.throw(/not a size/);
    });
  });

  describe('parseDuration', () => {
    const cases: [number | string, number][] = [
      [30, 30],
      [0.5, 0.5],
      ['45', 45],
      ['30s', 30],
      ['1m30s', 90],
      ['500ms', 0.5],
      ['2h', 7200],
      ['1.5h', 5400],
      ['1d', 86400],
    ];
    for (const [input, seconds] of cases) {
      it(`reads ${JSON.stringify(input)} as ${seconds} s`, () => expect(parseDuration(input)).to.be.closeTo(seconds, 1e-9));
    }

    for (const bad of ['soon', '10x', 's', '1m 30s', '', '-5s']) {
      it(`refuses ${JSON.stringify(bad)} with a hint`, () => {
        expect(() => parseDuration(bad)).to.throw(/is not a duration; use seconds or e\.g\. "30s"/);
      });
    }

    it('refuses negative and infinite numbers', () => {
      expect(() => parseDuration(-1)).to.throw(/not a duration/);
      expect(() => parseDuration(Infinity)).to.throw(/not a duration/);
    });
  });

  describe('shellSplit', () => {
    const cases: [string, string[]][] = [
      ['echo hi', ['echo', 'hi']],
      ['  spaced   out\twords\n', ['spaced', 'out', 'words']],
      [`sh -c 'echo "hi there"'`, ['sh', '-c', 'echo "hi there"']],
      [`echo "a \\"quoted\\" \\$HOME \\n"`, ['echo', 'a "quoted" $HOME \\n']],
      [`echo it\\'s`, ['echo', "it's"]],
      [`a'b'"c"d`, ['abcd']],
      [`echo '' ""`, ['echo', '', '']],
      [`one\\ word`, ['one word']],
      ['line\\\ncontinued', ['linecontinued']],
      ['', []],
    ];
    for (const [input, words] of cases) {
      it(`splits ${JSON.stringify(input)}`, () => expect(shellSplit(input)).to.deep.equal(words));
    }

    it('refuses unbalanced quotes and a trailing backslash', () => {
      expect(() => shellSplit(`echo "open`)).to.throw(/unbalanced double quote/);
      expect(() => shellSplit(`echo 'open`)).to.throw(/unbalanced single quote/);
      expect(() => shellSplit('echo \\')).to.throw(/backslash/);
    });
  });
});
