import { createHash, randomBytes } from 'node:crypto';
import type { DeviceCertificateIssuer, DeviceCertificateRequest } from './device-certificate.js';

/**
 * The TBSCertificate of device certificates as a per-issuer template. In this
 * profile every field that changes from one certificate to the next has a fixed
 * length (a 16-byte serial, UTCTime dates, a 128-character CN, a P-256 SPKI, a
 * SHA-1 key identifier, a SHA-256 evidence digest), so the encoding is one
 * buffer with those fields patched in: a copy and six writes instead of some
 * forty small buffers concatenated, per attestation.
 *
 * The template is made by the reference encoder (encodeDeviceTbs) itself, with
 * random placeholders whose single occurrence in its output gives each field's
 * offset; an issuer for which any placeholder is not found exactly once gets no
 * template. A request the template cannot express (a date from 2050, on which
 * UTCTime gives way to GeneralizedTime; a serial of another length) is encoded
 * by the reference encoder. Tests compare both encodings byte for byte.
 */
type Encoder = (issuer: DeviceCertificateIssuer, request: DeviceCertificateRequest, serialNumber: string) => Buffer;

interface Offsets {
  serial: number;
  notBefore: number;
  notAfter: number;
  deviceId: number;
  spki: number;
  keyIdentifier: number;
  evidence: number;
}

const SERIAL_BYTES = 16;
const DEVICE_ID_CHARS = 128;
const SPKI_BYTES = 91;
const UTC_TIME_CHARS = 13;
const SERIAL = /^[0-7][0-9a-f]{31}$/;
const DEVICE_ID = /^[0-9a-f]{128}$/;
const LAST_UTC_TIME_MS = Date.UTC(2050, 0, 1);

export class DeviceTbsTemplate {
  readonly #template: Buffer;
  readonly #at: Offsets;
  /** The last dates encoded: notBefore is whole seconds, so consecutive certificates share them. */
  #times = new Map<number, string>();

  private constructor(template: Buffer, offsets: Offsets) {
    this.#template = template;
    this.#at = offsets;
  }

  /** The template of an issuer; null when its encoding would make a placeholder ambiguous. */
  static build(issuer: DeviceCertificateIssuer, encode: Encoder): DeviceTbsTemplate | null {
    const serial = randomBytes(SERIAL_BYTES);
    serial[0] = 0x40 | (serial[0]! & 0x3f); // positive, no leading zero: a 16-byte INTEGER
    const point = randomBytes(64);
    const spki = Buffer.concat([P256_SPKI_PREFIX, point]);
    const request: DeviceCertificateRequest = {
      deviceId: randomBytes(DEVICE_ID_CHARS / 2).toString('hex'),
      spki,
      evidenceSha256: randomBytes(32),
      notBefore: new Date(Date.UTC(2031, 6, 19, 13, 37, 11)),
      notAfter: new Date(Date.UTC(2032, 10, 3, 5, 41, 59)),
    };
    const template = encode(issuer, request, serial.toString('hex'));
    const find = (needle: Buffer): number => {
      const at = template.indexOf(needle);
      return at >= 0 && template.lastIndexOf(needle) === at ? at : -1;
    };
    const offsets: Offsets = {
      serial: find(serial),
      notBefore: find(Buffer.from(utcTime(request.notBefore.getTime()), 'latin1')),
      notAfter: find(Buffer.from(utcTime(request.notAfter.getTime()), 'latin1')),
      deviceId: find(Buffer.from(request.deviceId, 'latin1')),
      spki: find(spki),
      keyIdentifier: find(createHash('sha1').update(spki.subarray(SPKI_BYTES - 65)).digest()),
      evidence: find(request.evidenceSha256),
    };
    return Object.values(offsets).every((at) => at >= 0) ? new DeviceTbsTemplate(template, offsets) : null;
  }

  /** The TBSCertificate for a request; undefined when the template cannot express it. */
  fill(serialNumber: string, request: DeviceCertificateRequest): Buffer | undefined {
    const notBefore = request.notBefore.getTime();
    const notAfter = request.notAfter.getTime();
    if (
      !SERIAL.test(serialNumber) ||
      serialNumber.startsWith('00') ||
      notBefore >= LAST_UTC_TIME_MS ||
      notAfter >= LAST_UTC_TIME_MS ||
      request.spki.length !== SPKI_BYTES ||
      !request.spki.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX) ||
      request.evidenceSha256.length !== 32 ||
      !DEVICE_ID.test(request.deviceId)
    ) {
      return undefined;
    }
    const at = this.#at;
    const tbs = Buffer.allocUnsafe(this.#template.length);
    this.#template.copy(tbs);
    tbs.write(serialNumber, at.serial, SERIAL_BYTES, 'hex');
    tbs.write(this.#time(notBefore), at.notBefore, UTC_TIME_CHARS, 'latin1');
    tbs.write(this.#time(notAfter), at.notAfter, UTC_TIME_CHARS, 'latin1');
    tbs.write(request.deviceId, at.deviceId, DEVICE_ID_CHARS, 'latin1');
    request.spki.copy(tbs, at.spki);
    // RFC 5280 method 1, as spkiKeyIdentifier: SHA-1 of the subjectPublicKey bits, the point 0x04 || X || Y.
    createHash('sha1').update(request.spki.subarray(SPKI_BYTES - 65)).digest().copy(tbs, at.keyIdentifier);
    Buffer.from(request.evidenceSha256).copy(tbs, at.evidence);
    return tbs;
  }

  #time(ms: number): string {
    let text = this.#times.get(ms);
    if (text === undefined) {
      if (this.#times.size >= 4) this.#times.clear();
      text = utcTime(ms);
      this.#times.set(ms, text);
    }
    return text;
  }
}

/** SubjectPublicKeyInfo of an uncompressed P-256 point, up to and including the 0x04 before X || Y. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');

/** YYMMDDHHMMSSZ, as der-writer's time() writes dates before 2050. */
function utcTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}
