import { InputError } from '../util/failure.js';

export type CertificateErrorCode =
  | 'certificate-unreadable'
  | 'certificate-missing'
  | 'certificate-malformed'
  | 'certificate-count'
  | 'certificate-params';

/**
 * A certificate (or bundle) that cannot be read, parsed or built. It is operator
 * input, so an infrastructure error; `source` names the file or what was parsed.
 */
export class CertificateError extends InputError {
  readonly source: string;

  constructor(code: CertificateErrorCode, source: string, problem: string, options?: { cause?: unknown }) {
    super(code, `${source}: ${problem}`, { source }, options);
    this.source = source;
  }
}
