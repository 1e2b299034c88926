import { expect } from 'chai';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon/daemon.js';
import { parseRigConfig } from '../../src/daemon/rig-config.js';
import { InputError } from '../../src/util/failure.js';

/**
 * Daemon.start checks where it is told to listen before it touches anything.
 * The state folder lies under /dev/null: a daemon that got past the check would
 * fail on its first mkdir (ENOTDIR) instead of serving anywhere.
 */
describe('daemon listen address', () => {
  const rig = parseRigConfig('name: r\nboards:\n  - { id: b, driver: mt3620, usbSerial: AS1 }\n', 'r.yaml');
  const stateDir = join('/dev/null', 'state');

  for (const host of ['localhost', '0.0.0.0', '::', '10.0.0.1']) {
    it(`refuses host ${host} (port 8480) given by a caller, before anything starts`, async () => {
      const error = await Daemon.start({ rig, stateDir, listen: { host, port: 8480 } }).then(
        async (daemon) => {
          await daemon.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error, host).to.be.instanceOf(InputError);
      expect((error as InputError).code).to.equal('non-loopback-address');
      expect((error as InputError).message).to.match(/^the daemon listen address: .* not a loopback address/);
    });
  }
});
