/**
 * The cost an encrypted private key asks of whoever decrypts it. A PKCS#8
 * EncryptedPrivateKeyInfo names its key derivation and the work it takes
 * (PBKDF2's iteration count, scrypt's N, r and p; PBES1 and PKCS#12 PBE
 * iteration counts), and OpenSSL spends all of it, synchronously, on the
 * thread that asked: a PEM key with 2^31 PBKDF2 iterations would hold the
 * emulator's event loop for hours. So the parameters are read here, from the
 * DER, before anything decrypts, and a key over the bounds is refused.
 */

/** More PBKDF2 (or PBES1/PKCS#12) iterations than any tool uses by default (OpenSSL 2048, Windows 2000-600,000). */
export const MAX_KEY_DERIVATION_ITERATIONS = 1_000_000;
/** scrypt bounds: OpenSSL's default is N=16384, r=8, p=1. */
export const MAX_SCRYPT = { cost: 2 ** 20, blockSize: 32, parallelization: 16 } as const;

const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  scrypt: '1.3.6.1.4.1.11591.4.11',
} as const;
/** PBES1 (PKCS#5 v1.5) and PKCS#12 PBE schemes: their parameters are {salt, iterations}. */
const SALT_AND_ITERATION_SCHEMES = /^1\.2\.840\.113549\.1\.(?:5\.(?:1|3|4|6|10|11)|12\.1\.[1-6])$/;

const PEM_BLOCK = /-----BEGIN ([^\r\n]*?)-----([\s\S]*?)-----END \1-----/g;

/**
 * Why the key in `pem` would cost too much to decrypt, or undefined when it is
 * within the bounds (or not encrypted). Every PEM block is looked at, whatever
 * its label, so no block can slip an EncryptedPrivateKeyInfo past the check; a
 * block labelled ENCRYPTED PRIVATE KEY that cannot be read is refused too.
 */
export function keyDerivationProblem(pem: string): string | undefined {
  for (const [, label, body] of pem.matchAll(PEM_BLOCK)) {
    const encryptedLabel = label === 'ENCRYPTED PRIVATE KEY';
    // Only the base64 alphabet: what OpenSSL reads is then exactly what is checked here.
    const text = body!
      .split('\n')
      .filter((line) => !/^[\w-]+:/.test(line.trim())) // RFC 1421 headers (Proc-Type, DEK-Info): not key bytes
      .join('')
      .replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      if (encryptedLabel) return 'the encrypted key is not base64';
      continue;
    }
    let problem: string | undefined;
    try {
      problem = encryptedKeyProblem(Buffer.from(text, 'base64'), encryptedLabel);
    } catch (error) {
      if (!(error instanceof DerError)) throw error;
      if (encryptedLabel) return `the encrypted key does not parse: ${error.message}`;
    }
    if (problem) return problem;
  }
  return undefined;
}

/** EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING } */
function encryptedKeyProblem(der: Buffer, mustBeEncrypted: boolean): string | undefined {
  const outer = new DerReader(der).read(0x30);
  const info = new DerReader(outer);
  const algorithm = new DerReader(info.read(0x30));
  const scheme = algorithm.oid();
  if (!mustBeEncrypted && info.peekTag() !== 0x04) return undefined;
  if (scheme === OID.pbes2) return pbes2Problem(new DerReader(algorithm.read(0x30)));
  if (SALT_AND_ITERATION_SCHEMES.test(scheme)) {
    const params = new DerReader(algorithm.read(0x30));
    params.read(0x04);
    return iterationProblem(params.integer());
  }
  return mustBeEncrypted ? `the key's encryption scheme ${scheme} is not supported` : undefined;
}

/** PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier } */
function pbes2Problem(params: DerReader): string | undefined {
  const kdf = new DerReader(params.read(0x30));
  const kdfOid = kdf.oid();
  const kdfParams = new DerReader(kdf.read(0x30));
  if (kdfOid === OID.pbkdf2) {
    // PBKDF2-params ::= SEQUENCE { salt OCTET STRING (or AlgorithmIdentifier), iterationCount INTEGER, ... }
    kdfParams.skip();
    return iterationProblem(kdfParams.integer());
  }
  if (kdfOid === OID.scrypt) {
    // scrypt-params ::= SEQUENCE { salt OCTET STRING, costParameter, blockSize, parallelizationParameter INTEGER, keyLength OPTIONAL }
    kdfParams.read(0x04);
    const cost = kdfParams.integer();
    const blockSize = kdfParams.integer();
    const parallelization = kdfParams.integer();
    if (cost > MAX_SCRYPT.cost || blockSize > MAX_SCRYPT.blockSize || parallelization > MAX_SCRYPT.parallelization) {
      return `the key's scrypt parameters (N=${cost}, r=${blockSize}, p=${parallelization}) are over N=${MAX_SCRYPT.cost}, r=${MAX_SCRYPT.blockSize}, p=${MAX_SCRYPT.parallelization}`;
    }
    return undefined;
  }
  return `the key's key derivation ${kdfOid} is not supported`;
}

function iterationProblem(iterations: number): string | undefined {
  if (iterations > MAX_KEY_DERIVATION_ITERATIONS) return `the key asks for ${iterations > Number.MAX_SAFE_INTEGER ? 'more than 2^53' : iterations} key derivation iterations; at most ${MAX_KEY_DERIVATION_ITERATIONS}`;
  return undefined;
}

class DerError extends Error {}

/** Reads DER one element at a time; every length is checked against what is left. */
class DerReader {
  private offset = 0;

  constructor(private readonly bytes: Buffer) {}

  peekTag(): number | undefined {
    return this.bytes[this.offset];
  }

  /** The contents of the next element, which must have `tag`. */
  read(tag: number): Buffer {
    const { tag: found, contents } = this.next();
    if (found !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, found 0x${found.toString(16)}`);
    return contents;
  }

  skip(): void {
    this.next();
  }

  /** A non-negative INTEGER; larger than 2^53 comes back as Infinity (only ever compared with a bound). */
  integer(): number {
    const contents = this.read(0x02);
    if (contents.length === 0 || contents[0]! & 0x80) throw new DerError('a negative or empty integer');
    let value = 0;
    for (const byte of contents) value = value * 256 + byte;
    return Number.isSafeInteger(value) ? value : Number.POSITIVE_INFINITY;
  }

  oid(): string {
    const contents = this.read(0x06);
    if (contents.length === 0) throw new DerError('an empty object identifier');
    const arcs: number[] = [];
    let value = 0;
    for (const byte of contents) {
      value = value * 128 + (byte & 0x7f);
      if (value > Number.MAX_SAFE_INTEGER) throw new DerError('an object identifier arc too large');
      if (!(byte & 0x80)) {
        arcs.push(value);
        value = 0;
      }
    }
    const first = arcs.shift()!;
    const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
    return [...head, ...arcs].join('.');
  }

  private next(): { tag: number; contents: Buffer } {
    const { bytes } = this;
    if (this.offset + 2 > bytes.length) throw new DerError('truncated');
    const tag = bytes[this.offset++]!;
    let length = bytes[this.offset++]!;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 4 || this.offset + count > bytes.length) throw new DerError('a bad length');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[this.offset++]!;
    }
    if (this.offset + length > bytes.length) throw new DerError('an element longer than its container');
    const contents = bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return { tag, contents };
  }
}
