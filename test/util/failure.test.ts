import { expect } from 'chai';
import { failureClassOf, InputError, RigError } from '../../src/util/failure.js';
import { deviceErrorMessage, DeviceErrorCode } from '../../src/util/device-error-codes.js';

describe('failure taxonomy', () => {
  it('keeps the failure class and code through JSON', () => {
    const error = new RigError('device-fault', 'board-silent', 'board said nothing', { board: 'b1' });
    expect(JSON.parse(JSON.stringify(error))).to.include({ failureClass: 'device-fault', code: 'board-silent' });
  });

  it('calls bad operator input an infrastructure error, never a test failure', () => {
    expect(failureClassOf(new InputError('bad-flag', 'no such flag'))).to.equal('infra-error');
    expect(failureClassOf(new Error('surprise'))).to.equal('infra-error');
    const abort = new Error('stopped');
    abort.name = 'AbortError';
    expect(failureClassOf(abort)).to.equal('cancelled');
  });

  it('knows the device message for the codes the spec lists', () => {
    expect(deviceErrorMessage(DeviceErrorCode.ImageNotTrusted)).to.match(/not trusted/);
    expect(deviceErrorMessage(1)).to.match(/device error 1/);
  });
});
