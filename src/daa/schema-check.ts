import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * JSON Schema checks with messages that name where the problem is, e.g.
 * `components[0].trustedImageHashes[1]: must match pattern "^[0-9a-f]{64}$"`.
 * One Ajv instance for the DAA layer; schemas compile once.
 */
const ajv = new Ajv({ allErrors: true, strict: true });

export interface SchemaProblem {
  /** Where in the document: `components[0].required`, or `(root)`. */
  path: string;
  message: string;
}

export function compileSchema<T>(schema: Record<string, unknown>): (value: unknown) => { ok: true; value: T } | { ok: false; problems: SchemaProblem[] } {
  const validate: ValidateFunction = ajv.compile(schema);
  return (value) => (validate(value) ? { ok: true, value: value as T } : { ok: false, problems: describe(validate.errors ?? []) });
}

export function formatProblems(problems: readonly SchemaProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('; ');
}

function describe(errors: readonly ErrorObject[]): SchemaProblem[] {
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const error of errors) {
    let path = pointerToPath(error.instancePath);
    let message = error.message ?? 'is invalid';
    if (error.keyword === 'required') message = `'${String(error.params.missingProperty)}' is required`;
    if (error.keyword === 'additionalProperties') {
      path = joinPath(path, String(error.params.additionalProperty));
      message = 'is not a known field';
    }
    if (error.keyword === 'enum') message += ` (${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')})`;
    const key = `${path}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: path || '(root)', message });
  }
  return out;
}

function pointerToPath(pointer: string): string {
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path = /^\d+$/.test(segment) ? `${path}[${segment}]` : joinPath(path, segment);
  }
  return path;
}

function joinPath(path: string, field: string): string {
  return path ? `${path}.${field}` : field;
}
