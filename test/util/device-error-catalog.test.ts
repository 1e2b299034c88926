import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  catalogCode,
  describeDeviceError,
  errorCategories,
  isCatalogCode,
  parseDeviceErrorCode,
} from '../../src/util/device-error-catalog.js';
import { DEVICE_ERROR_MESSAGES } from '../../src/util/device-error-codes.js';
import { readCatalogSource, renderCatalogModule } from '../../tools/generate-error-catalog.js';

/**
 * The one error catalog: the compiled module is exactly what Microsoft's yml
 * files in fixtures/ give, and codes decode as error-catalog.md (and
 * Microsoft's error_code.py) say.
 */
const root = new URL('../../', import.meta.url);

describe('device error catalog (Azure Sphere OS 24.06, fixtures/azure-sphere-os-24.06)', () => {
  it('the compiled module is what the yml files generate (run `npm run generate:error-catalog` after changing them)', () => {
    const compiled = readFileSync(fileURLToPath(new URL('src/util/device-error-catalog-data.ts', root)), 'utf8');
    expect(compiled).to.equal(renderCatalogModule(readCatalogSource()));
    const source = readCatalogSource();
    expect(source).to.have.length(43);
    expect(source.reduce((sum, c) => sum + c.codes.length, 0)).to.equal(771);
    expect(errorCategories().map((c) => c.name)).to.deep.equal(source.map((c) => c.name));
  });

  it('decodes the checks of error-catalog.md', () => {
    const name = (code: number) => describeDeviceError(code).name;
    expect(name(7340047)).to.equal('ImageUpdateError::VerificationFailed');
    expect(name(7340056)).to.equal('ImageUpdateError::ImageInstallFailed');
    expect(describeDeviceError(40894464)).to.deep.include({ name: 'RecoveryError::0', message: 'RecoveryError error code: 0', standing: 'unlisted-id' });
    expect(describeDeviceError(40894469)).to.deep.include({
      category: 39,
      id: 5,
      categoryName: 'RecoveryError',
      name: 'RecoveryError::BadSignature',
      message: 'The digital signature of the image or manifest does not check',
      standing: 'listed',
    });
    expect(name(14680082)).to.equal('RestAppError::NotEnoughFreeSpace');
    expect(describeDeviceError(14680082).openapi).to.equal(true);
    expect(name(17825802)).to.equal('LogManagerError::PermissionDenied');
    expect(describeDeviceError(13)).to.deep.include({ name: 'LinuxError::13', message: 'Linux errno 13 (EACCES)', standing: 'errno' });
    expect(describeDeviceError(0)).to.deep.include({ name: 'CommonError::Success', standing: 'success' });
    expect(describeDeviceError(62914561)).to.deep.include({ name: 'UnknownError', standing: 'unknown' });
    expect(catalogCode('RecoveryError', 'BadSignature')).to.equal(40894469);
    expect(() => catalogCode('RecoveryError', 'NoSuchThing')).to.throw(/no RecoveryError::NoSuchThing/);
  });

  it('reads codes as Microsoft decoder does: decimal, 0x hex, category:id', () => {
    expect(parseDeviceErrorCode('7340047')).to.equal(7340047);
    expect(parseDeviceErrorCode('0x70000F')).to.equal(7340047);
    expect(parseDeviceErrorCode(' 39:5 ')).to.equal(40894469);
    for (const bad of ['', 'abc', '-5', '0x', '12.5', '7:', '0x1ffffffff', '99999999999']) expect(parseDeviceErrorCode(bad), bad).to.equal(undefined);
  });

  it('the client texts are device-error-codes.json, and every code of it is a catalog code', () => {
    const json = JSON.parse(readFileSync(fileURLToPath(new URL('fixtures/device-error-codes.json', root)), 'utf8')) as Record<string, string>;
    expect(Object.fromEntries(Object.entries(DEVICE_ERROR_MESSAGES).map(([k, v]) => [k, v]))).to.deep.equal(json);
    const outside = Object.keys(json).map(Number).filter((code) => !isCatalogCode(code));
    expect(outside).to.deep.equal([]);
  });
});
