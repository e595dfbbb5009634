import { expect } from 'chai';
import { parsePrometheusText, sampleValue } from '../../support/prom-text.js';

describe('test support: strict Prometheus text parser', () => {
  it('parses families, labels with escapes, values and histograms', () => {
    const text = [
      '# HELP a_total Things\\\\ counted\\nhere.',
      '# TYPE a_total counter',
      'a_total{x="q\\"uo\\\\te",y="line\\nbreak"} 3',
      'a_total 1 1700000000000',
      '# TYPE g gauge',
      'g -1.5e3',
      'g{k="v"} NaN',
      '# HELP h_seconds Durations.',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{le="0.1",kind="run"} 1',
      'h_seconds_bucket{le="+Inf",kind="run"} 2',
      'h_seconds_sum{kind="run"} 0.35',
      'h_seconds_count{kind="run"} 2',
      '',
    ].join('\n');
    const f = parsePrometheusText(text);
    expect(f.get('a_total')!.help).to.equal('Things\\ counted\nhere.');
    expect(f.get('a_total')!.type).to.equal('counter');
    expect(sampleValue(f, 'a_total', { x: 'q"uo\\te', y: 'line\nbreak' })).to.equal(3);
    expect(sampleValue(f, 'a_total')).to.equal(1);
    expect(sampleValue(f, 'g')).to.equal(-1500);
    expect(Number.isNaN(sampleValue(f, 'g', { k: 'v' }))).to.equal(true);
    expect(sampleValue(f, 'h_seconds_bucket', { kind: 'run', le: '+Inf' })).to.equal(2);
    expect(sampleValue(f, 'h_seconds_count', { kind: 'run' })).to.equal(2);
    expect(f.get('h_seconds')!.samples).to.have.length(4);
  });

  for (const [why, text] of [
    ['no trailing newline', '# TYPE a gauge\na 1'],
    ['a sample without TYPE', 'a 1\n'],
    ['a bad metric name', '# TYPE 1a gauge\n'],
    ['an unknown type', '# TYPE a meter\n'],
    ['TYPE twice', '# TYPE a gauge\n# TYPE a gauge\n'],
    ['a duplicate series', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'],
    ['a repeated label', '# TYPE a gauge\na{x="1",x="2"} 1\n'],
    ['a bad escape', '# TYPE a gauge\na{x="\\t"} 1\n'],
    ['an unterminated value', '# TYPE a gauge\na{x="1} 1\n'],
    ['a bad value', '# TYPE a gauge\na 1,5\n'],
    ['two spaces', '# TYPE a gauge\na  1\n'],
    ['a reserved label name', '# TYPE a gauge\na{__x="1"} 1\n'],
    ['a negative counter', '# TYPE a_total counter\na_total -1\n'],
    ['a bucket without le', '# TYPE h histogram\nh_bucket 1\n'],
    ['buckets not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'],
    ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_count 2\n'],
    ['+Inf not the count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\n'],
    ['a _bucket of a summary', '# TYPE s summary\ns_bucket{le="1"} 1\n'],
  ] as const) {
    it(`rejects ${why}`, () => {
      expect(() => parsePrometheusText(text)).to.throw();
    });
  }
});
