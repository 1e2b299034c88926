import { expect } from 'chai';
import { runCli } from '../helpers/run-cli.js';

/** `sphere-rig explain CODE` through the built CLI (run `npm run build` first). */
describe('sphere-rig explain', function () {
  this.timeout(60_000);

  it('names an image-update code with its category and message, and the client text', async () => {
    const result = await runCli(['explain', '7340047']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal(
      [
        '7340047 (0x0070000f)  ImageUpdateError::VerificationFailed',
        'category  7 ImageUpdateError (7 << 20 | 15)',
        'message   Verification of the image failed.',
        "client    Image not trusted by device; check if application development capability is enabled ('azsphere device enable-development')",
        '',
      ].join('\n'),
    );
  });

  it('names the recovery code BadSignature, given in decimal, hex or category:id', async () => {
    for (const text of ['40894469', '0x02700005', '39:5']) {
      const result = await runCli(['explain', text, '--json']);
      expect(result.code, result.stderr).to.equal(0);
      expect(JSON.parse(result.stdout)).to.deep.include({
        code: 40894469,
        hex: '0x02700005',
        category: 39,
        categoryName: 'RecoveryError',
        id: 5,
        name: 'RecoveryError::BadSignature',
        message: 'The digital signature of the image or manifest does not check',
      });
    }
  });

  it('exits 2 with a clear message for a malformed code and for one the catalog does not list', async () => {
    const malformed = await runCli(['explain', 'banana']);
    expect(malformed.code).to.equal(2);
    expect(malformed.stdout).to.equal('');
    expect(malformed.stderr).to.match(/'banana' is not a device error code: give a decimal number \(7340047\), 0x hex/);
    const unlisted = await runCli(['explain', '40894464']);
    expect(unlisted.code).to.equal(2);
    expect(unlisted.stderr).to.match(/40894464 is not in the error catalog: RecoveryError \(category 39\) lists no id 0/);
    const unknown = await runCli(['explain', '62914561']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.match(/category 60 is not one of Azure Sphere OS 24\.06's categories/);
  });

  it('says what it does in --help and is listed in the command overview', async () => {
    const help = await runCli(['explain', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/Usage: sphere-rig explain \[options\] <code>/);
    expect(help.stdout).to.match(/sphere-rig explain 40894469 +RecoveryError::BadSignature/);
    const overview = await runCli(['--help']);
    expect(overview.stdout).to.match(/explain \[options\] <code>/);
  });
});
