import { expect } from 'chai';
import { redactCredentials } from '../../../src/observability/redact.js';

describe('observability/redactCredentials', () => {
  const cases: [string, string][] = [
    ['postgresql://app:s3cret@db:5432/highway', 'postgresql://app:***@db:5432/highway'],
    ['postgres://app:p%40ss@db/highway', 'postgres://app:***@db/highway'],
    ['postgres://app:p@ss@db/highway', 'postgres://app:***@db/highway'],
    ['postgresql://app@db/highway?password=s3cret', 'postgresql://app@db/highway?password=***'],
    ['postgresql://app@db/h?sslmode=require&sslpassword=k3y&sslkey=/keys/app.key&application_name=x', 'postgresql://app@db/h?sslmode=require&sslpassword=***&sslkey=***&application_name=x'],
    ['postgresql://db/h?PASSWORD=s3cret', 'postgresql://db/h?PASSWORD=***'],
    ['host=db user=app password=s3cret dbname=highway', 'host=db user=app password=*** dbname=highway'],
    ["host=db password='s3 cret' dbname=highway", 'host=db password=*** dbname=highway'],
    ['host=db password = s3cret', 'host=db password = ***'],
    ['PGPASSWORD=s3cret psql', 'PGPASSWORD=*** psql'],
    ['tcp://user:tok3n@docker:2376', 'tcp://user:***@docker:2376'],
    ['postgresql://app@db:5432/highway', 'postgresql://app@db:5432/highway'],
    ['the database at app@db:5432/highway is unreachable', 'the database at app@db:5432/highway is unreachable'],
    ['user_password_hint=1', 'user_password_hint=1'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} -> ${expected}`, () => {
      expect(redactCredentials(input)).to.equal(expected);
    });
  }

  it("with the URL: the URL's password anywhere in the text (a driver quoting it)", () => {
    const url = 'postgresql://app:s3cret-pw@db/h?password=q-pw';
    expect(redactCredentials('auth failed for s3cret-pw and q-pw', url)).to.equal('auth failed for *** and ***');
  });
});
