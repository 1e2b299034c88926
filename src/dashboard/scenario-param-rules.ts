import type { ParamValue, ScenarioParamDeclaration } from './api-types.js';

/**
 * The start-run form's checks of one scenario parameter, made before anything
 * is sent, with messages that name the field. The daemon checks again (400
 * param-invalid); these only spare a round trip and say it next to the field.
 * An empty field is "not set": the run gets the scenario's default.
 */
export type ParamInput = { ok: true; value: ParamValue | undefined } | { ok: false; message: string };

export function checkParamInput(name: string, declaration: ScenarioParamDeclaration, text: string): ParamInput {
  const raw = text.trim();
  if (!raw) return declaration.required && declaration.default === undefined ? { ok: false, message: `${name} is required` } : { ok: true, value: undefined };
  const typed = typedValue(name, declaration, raw);
  if (!typed.ok || typed.value === undefined) return typed;
  const value = typed.value;
  if (declaration.enum && !declaration.enum.some((allowed) => String(allowed) === String(value))) {
    return { ok: false, message: `${name} must be one of ${declaration.enum.map(String).join(', ')}` };
  }
  if (typeof value === 'number') {
    const { minimum: min, maximum: max } = declaration;
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      const range = min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : `at most ${max}`;
      return { ok: false, message: `${name} must be ${range}` };
    }
  }
  if (typeof value === 'string' && declaration.pattern !== undefined && !matches(declaration.pattern, value)) {
    return { ok: false, message: `${name} must match the pattern ${declaration.pattern}` };
  }
  return { ok: true, value };
}

function typedValue(name: string, declaration: ScenarioParamDeclaration, raw: string): ParamInput {
  switch (declaration.type) {
    case 'integer':
      return /^[+-]?\d+$/.test(raw) ? { ok: true, value: Number(raw) } : { ok: false, message: `${name} must be a whole number` };
    case 'number':
      return raw !== '' && Number.isFinite(Number(raw)) ? { ok: true, value: Number(raw) } : { ok: false, message: `${name} must be a number` };
    case 'boolean':
      return raw === 'true' || raw === 'false' ? { ok: true, value: raw === 'true' } : { ok: false, message: `${name} must be true or false` };
    default:
      return { ok: true, value: raw };
  }
}

/** JSON Schema's `pattern`: an ECMAScript regular expression, matched anywhere unless anchored. */
function matches(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(value);
  } catch {
    // A pattern the browser cannot read: leave the check to the daemon.
    return true;
  }
}

/** What the field accepts, in a few words: "whole number, 1–10", "matches ^\d+\.\d+$", "one of a, b". */
export function paramHint(declaration: ScenarioParamDeclaration): string {
  const parts: string[] = [];
  if (declaration.enum) parts.push(`one of ${declaration.enum.map(String).join(', ')}`);
  else if (declaration.type === 'integer') parts.push('whole number');
  else if (declaration.type === 'number') parts.push('number');
  else if (declaration.type === 'boolean') parts.push('true or false');
  const { minimum: min, maximum: max } = declaration;
  if (min !== undefined && max !== undefined) parts.push(`${min}–${max}`);
  else if (min !== undefined) parts.push(`≥ ${min}`);
  else if (max !== undefined) parts.push(`≤ ${max}`);
  if (declaration.pattern !== undefined) parts.push(`matches ${declaration.pattern}`);
  if (declaration.required && declaration.default === undefined) parts.push('required');
  return parts.join(', ');
}
