import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { fileURLToPath } from 'node:url';
import { OpenAPIBackend, ValidationContext, type Operation } from 'openapi-backend';
import { parse } from 'yaml';

/**
 * Microsoft's OpenAPI spec of the device REST API (fixtures/azure-sphere/
 * device_rest_api.yaml), loaded into openapi-backend, whose Ajv-based
 * validators check responses against the spec's own schemas. Three things are
 * done to the document first, each because the published spec cannot be used
 * as it stands; each is listed in SPEC_ERRATA and nothing else is changed:
 *  1. OAS 3.0 ignores the siblings of a `$ref` (NetworkRequestBase.ssid has a
 *     `minLength` beside its `$ref`); they are dropped, as OAS 3.0 says, so the
 *     document passes openapi-backend's strict definition check.
 *  2. GET /net/proxy answers `oneOf` two schemas that accept the same objects
 *     (neither requires a property), so no answer can match exactly one; the
 *     alternatives are checked as `anyOf`.
 *  3. GET /app/status/{componentId} is typed as the bare AppStatus string,
 *     while devices answer {"state": "..."} (device-rest-api.md, Microsoft's
 *     client); its answers are checked against the object the spec itself
 *     defines for app state, PATCH /app/status's 200 schema.
 * Formats the spec uses and Ajv lacks (uuid, ipv4, date-time) are registered,
 * so they are checked rather than ignored.
 */
export const SPEC_PATH = fileURLToPath(new URL('../../fixtures/azure-sphere/device_rest_api.yaml', import.meta.url));

export const SPEC_ERRATA = ['$ref siblings dropped (OAS 3.0)', 'GET /net/proxy oneOf checked as anyOf', 'GET /app/status checked as {"state": AppStatus}'] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function withoutRefSiblings(node: Json): Json {
  if (Array.isArray(node)) return node.map(withoutRefSiblings);
  if (node && typeof node === 'object') {
    if (typeof node.$ref === 'string') return { $ref: node.$ref };
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, withoutRefSiblings(v)]));
  }
  return node;
}

function customizeAjv(ajv: import('ajv').default): import('ajv').default {
  ajv.addFormat('uuid', /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/);
  ajv.addFormat('ipv4', { type: 'string', validate: (s: string) => isIPv4(s) });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)) });
  return ajv;
}

export interface ObservedResponse {
  method: string;
  path: string;
  status: number;
  contentType: string;
  body: Buffer;
}

export class DeviceApiSpec {
  private constructor(
    private readonly api: OpenAPIBackend,
    private readonly validateError: (body: unknown) => boolean,
  ) {}

  static async load(): Promise<DeviceApiSpec> {
    const document = withoutRefSiblings(parse(readFileSync(SPEC_PATH, 'utf8')) as Json) as Record<string, any>;
    const proxy = document.paths['/net/proxy'].get.responses['200'].content['application/json'].schema;
    proxy.anyOf = proxy.oneOf;
    delete proxy.oneOf;
    const api = new OpenAPIBackend({ definition: document as never, strict: true, customizeAjv: customizeAjv as never });
    await api.init();
    const ajv = api.validator.getAjv(ValidationContext.Response);
    const validateError = ajv.compile((api.definition as Record<string, any>).components.schemas.Error);
    return new DeviceApiSpec(api, (body) => validateError(body) === true);
  }

  /** Every operation of the spec, as "METHOD /path". */
  operations(): string[] {
    return this.api.getOperations().map((o) => `${o.method.toUpperCase()} ${o.path}`);
  }

  operationFor(method: string, path: string): Operation | undefined {
    return this.api.router.matchOperation({ method: method.toLowerCase(), path, headers: {} }) as Operation | undefined;
  }

  /** Problems with one response; empty when it conforms. */
  check(response: ObservedResponse): string[] {
    const operation = this.operationFor(response.method, response.path);
    if (!operation) return [`${response.method} ${response.path} is not an operation of the spec`];
    const what = `${response.method} ${operation.path} -> ${response.status}`;
    const documented = operation.responses?.[String(response.status)] as { content?: Record<string, unknown> } | undefined;
    const mediaType = response.contentType.split(';')[0]!.trim();
    if (!documented) {
      // Statuses the spec leaves out (403 for missing capabilities, 404s) still answer its Error schema.
      if (response.status < 400) return [`${what}: status not in the spec`];
      return mediaType === 'application/json' && this.validateError(parseJson(response.body)) ? [] : [`${what}: not an Error body: ${response.body.toString().slice(0, 200)}`];
    }
    const mediaTypes = Object.keys(documented.content ?? {});
    if (mediaTypes.length && !mediaTypes.includes(mediaType)) return [`${what}: content type ${mediaType}, the spec says ${mediaTypes.join(', ')}`];
    // Binary answers (telemetry, log) are `type: string, format: binary`: any bytes, of the documented media type.
    if (mediaType !== 'application/json') return [];
    const body = parseJson(response.body);
    if (body === undefined) return [`${what}: body is not JSON`];
    const result =
      operation.operationId === 'getAppStatus' && response.status === 200
        ? this.api.validateResponse(body, 'setAppStatus', 200)
        : this.api.validateResponse(body, operation, response.status);
    return result.valid ? [] : (result.errors ?? []).map((e) => `${what}: ${e.instancePath || '/'} ${e.message ?? ''} (${JSON.stringify(e.params)})`);
  }
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}
