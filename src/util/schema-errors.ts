import type { ErrorObject } from 'ajv';

/** Ajv errors as "<file>: at <path>: <what was expected>" lines, the path in JSON-path style. */
export function describeAjvErrors(errors: readonly ErrorObject[] | null | undefined, source: string): string {
  if (!errors?.length) return `${source}: invalid`;
  return errors
    .slice(0, 5)
    .map((e) => {
      const path = `$${e.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
      const extra =
        e.keyword === 'additionalProperties'
          ? ` (unknown field '${String((e.params as { additionalProperty?: string }).additionalProperty)}')`
          : e.keyword === 'enum'
            ? ` (one of ${JSON.stringify((e.params as { allowedValues?: unknown[] }).allowedValues)})`
            : '';
      return `${source}: at ${path}: ${e.message ?? 'invalid'}${extra}`;
    })
    .join('\n');
}
