import { parse as parseYaml, YAMLParseError } from 'yaml';
import { DaaError } from './daa-error.js';
import { compileSchema, formatProblems } from './schema-check.js';

/**
 * A tenant's reference values: what software its devices may run. Per
 * component: the trusted images (by SHA-256 of the package, or by image ID; a
 * component that lists neither accepts any image), images marked untrusted,
 * whether it must be present, and the lowest security version accepted.
 * Written by operators in YAML or JSON:
 *
 *   allowUnlistedComponents: false     # a measured component not listed here is refused
 *   components:
 *     - componentId: 5e8c0c1e-0009-4a61-9d4b-000000000009
 *       name: OS services                # for people; optional
 *       required: true
 *       minimumSecurityVersion: 2
 *       trustedImageHashes: [<64 hex>]
 *       trustedImageIds: [<GUID>]
 *       untrustedImageHashes: []
 *       untrustedImageIds: []
 */
export interface ComponentReference {
  componentId: string;
  name?: string;
  required?: boolean;
  minimumSecurityVersion?: number;
  trustedImageHashes?: string[];
  trustedImageIds?: string[];
  untrustedImageHashes?: string[];
  untrustedImageIds?: string[];
}

export interface ReferenceValues {
  allowUnlistedComponents?: boolean;
  components: ComponentReference[];
}

const GUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const SHA256 = '^[0-9a-fA-F]{64}$';
const list = (pattern: string) => ({ type: 'array', maxItems: 10_000, items: { type: 'string', pattern } });

export const REFERENCE_VALUES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['components'],
  properties: {
    allowUnlistedComponents: { type: 'boolean' },
    components: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['componentId'],
        properties: {
          componentId: { type: 'string', pattern: GUID },
          name: { type: 'string', maxLength: 200 },
          required: { type: 'boolean' },
          minimumSecurityVersion: { type: 'integer', minimum: 0, maximum: 0xffffffff },
          trustedImageHashes: list(SHA256),
          trustedImageIds: list(GUID),
          untrustedImageHashes: list(SHA256),
          untrustedImageIds: list(GUID),
        },
      },
    },
  },
} as const;

const check = compileSchema<ReferenceValues>(REFERENCE_VALUES_SCHEMA);

/** Checks a reference-values document; `source` names where it came from in the error. Returns it normalised (lower case). */
export function validateReferenceValues(value: unknown, source = 'reference values'): ReferenceValues {
  const result = check(value);
  if (!result.ok) {
    throw new DaaError('reference-values-invalid', 400, `${source}: ${formatProblems(result.problems)}`, { source, problems: result.problems });
  }
  const ids = new Set<string>();
  const components = result.value.components.map((component, index) => {
    const id = component.componentId.toLowerCase();
    if (ids.has(id)) throw new DaaError('reference-values-invalid', 400, `${source}: components[${index}].componentId: ${id} is listed twice`, { source });
    ids.add(id);
    const lower = (values: string[] | undefined) => values?.map((v) => v.toLowerCase());
    return {
      ...component,
      componentId: id,
      trustedImageHashes: lower(component.trustedImageHashes),
      trustedImageIds: lower(component.trustedImageIds),
      untrustedImageHashes: lower(component.untrustedImageHashes),
      untrustedImageIds: lower(component.untrustedImageIds),
    };
  });
  return JSON.parse(JSON.stringify({ ...result.value, components })) as ReferenceValues;
}

/** Parses YAML (or JSON, which is YAML) text and checks it; errors name `source` and the path or line. */
export function parseReferenceValues(text: string, source: string): ReferenceValues {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` line ${error.linePos[0].line}` : '';
    throw new DaaError('reference-values-unreadable', 400, `${source}:${where}: not valid YAML or JSON (${(error as Error).message.split('\n')[0]})`, { source });
  }
  return validateReferenceValues(value, source);
}
