import { NotApplicableError } from '../board.js';

/**
 * What a real MT3620 cannot do from the rig's side, with the reason in the
 * message so a scenario that ends not-applicable says why.
 */
export class RealBoardNotApplicable extends NotApplicableError {
  constructor(what: string, why: string) {
    super(what, 'mt3620');
    this.message = `${what} is not available on real MT3620 boards: ${why}`;
  }
}

/**
 * Attestation of a real board, as a relying party checks it: the device
 * attests to Microsoft's security service by itself (daily and after boot;
 * Pluton signs the measurements with the device key) and receives a 24-hour
 * client certificate for its tenant. Nothing on the host can make it attest
 * now or read the result from outside. The check therefore needs an app on the
 * device that uses the certificate (a "DeviceAuthentication" app opening a
 * mutual-TLS connection, or presenting its certificate chain over the console)
 * so the rig, as the relying party, can verify that chain against the tenant's
 * CA (src/daa/relying-party.ts with trustAnchorsPem set to the tenant CA
 * downloaded from the real service) and match CN to the device ID. Until such
 * an app is part of the bench, `attest` is not applicable.
 */
export const REAL_ATTESTATION_WHY =
  "a real board attests to Microsoft's security service by itself; the rig can only check the resulting certificate as a relying party, " +
  'which needs an on-device app that presents its DAA certificate chain (mutual TLS or the console); no such app is installed by this rig yet';
