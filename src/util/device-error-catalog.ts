import { getSystemErrorName } from 'node:util';
import { ERROR_CATALOG_DATA } from './device-error-catalog-data.js';

/**
 * Microsoft's error catalog of Azure Sphere OS 24.06 (../shared/spec/error-catalog.md):
 * a full device error code is `category << 20 | id`; each category is one yml
 * file of fixtures/azure-sphere-os-24.06/commonerror_yml, compiled into
 * device-error-catalog-data.ts. Codes are named the way Microsoft's decoder
 * (ParseDeviceLog/error_code.py) names them, so a rig log and Microsoft's tools
 * agree on what a number means.
 */
export interface ErrorCategoryData {
  id: number;
  name: string;
  file: string;
  /** For categories that list no codes: the C header their ids come from. */
  include?: string;
  codes: ReadonlyArray<readonly [id: number, name: string, message: string, openapi?: true]>;
}

/** How the catalog knows a code. */
export type CatalogStanding =
  /** 0: success. */
  | 'success'
  /** A code the catalog lists by name. */
  | 'listed'
  /** Category 0: a Linux errno value (the catalog lists none; their names come from errno.h). */
  | 'errno'
  /** A listed category, an id it does not list. */
  | 'unlisted-id'
  /** Not a category of the catalog. */
  | 'unknown';

export interface DeviceErrorDescription {
  code: number;
  category: number;
  id: number;
  /** The category's name, null when the catalog has no such category. */
  categoryName: string | null;
  /** `Category::Name` as Microsoft's decoder prints it (`Category::<id>` for an unlisted id, `UnknownError`). */
  name: string;
  /** The catalog's message (its `msg`), or the decoder's generic text. */
  message: string;
  standing: CatalogStanding;
  /** Flagged `openapi: true`: a code the device REST API documents. */
  openapi: boolean;
}

export const CATEGORY_SHIFT = 20;
const ID_MASK = 0xfffff;

const categories = new Map<number, ErrorCategoryData>(ERROR_CATALOG_DATA.map((c) => [c.id, c]));
const categoriesByName = new Map<string, ErrorCategoryData>(ERROR_CATALOG_DATA.map((c) => [c.name, c]));

export function errorCategories(): readonly ErrorCategoryData[] {
  return ERROR_CATALOG_DATA;
}

/** The full code of a catalog entry by its names; throws for a name the catalog lacks, so a typo fails at load. */
export function catalogCode(categoryName: string, codeName: string): number {
  const category = categoriesByName.get(categoryName);
  const entry = category?.codes.find(([, name]) => name === codeName);
  if (!category || !entry) throw new Error(`the error catalog has no ${categoryName}::${codeName}`);
  return ((category.id << CATEGORY_SHIFT) | entry[0]) >>> 0;
}

export function describeDeviceError(code: number): DeviceErrorDescription {
  const category = Math.floor(code / (1 << CATEGORY_SHIFT));
  const id = code & ID_MASK;
  const base = { code, category, id, openapi: false };
  if (code === 0) return { ...base, categoryName: null, name: 'CommonError::Success', message: 'Success', standing: 'success' };
  const data = Number.isInteger(code) && code > 0 ? categories.get(category) : undefined;
  if (!data) return { ...base, categoryName: null, name: 'UnknownError', message: `error code ${code} is not in the catalog`, standing: 'unknown' };
  const entry = data.codes.find(([entryId]) => entryId === id);
  if (entry) {
    return { ...base, categoryName: data.name, name: `${data.name}::${entry[1]}`, message: entry[2], standing: 'listed', openapi: entry[3] === true };
  }
  if (category === 0) {
    const errno = errnoName(id);
    if (errno) return { ...base, categoryName: data.name, name: `${data.name}::${id}`, message: `Linux errno ${id} (${errno})`, standing: 'errno' };
  }
  return { ...base, categoryName: data.name, name: `${data.name}::${id}`, message: `${data.name} error code: ${id}`, standing: 'unlisted-id' };
}

/** Whether the catalog knows the code by name (a listed entry, or a Linux errno in category 0). */
export function isCatalogCode(code: number): boolean {
  const standing = describeDeviceError(code).standing;
  return standing === 'listed' || standing === 'errno';
}

/**
 * A code as people write it: decimal (`7340047`), hex (`0x70000f`) or
 * `category:id` (`7:15`), as Microsoft's decoder accepts. Undefined when the
 * text is none of these or out of the u32 range.
 */
export function parseDeviceErrorCode(text: string): number | undefined {
  const trimmed = text.trim();
  let code: number;
  if (/^[0-9]+$/.test(trimmed)) code = Number(trimmed);
  else if (/^0x[0-9a-f]+$/i.test(trimmed)) code = Number.parseInt(trimmed.slice(2), 16);
  else {
    const pair = /^([0-9]+):([0-9]+)$/.exec(trimmed);
    if (!pair) return undefined;
    const category = Number(pair[1]);
    const id = Number(pair[2]);
    if (category > 0xfff || id > ID_MASK) return undefined;
    code = category * (1 << CATEGORY_SHIFT) + id;
  }
  return Number.isSafeInteger(code) && code <= 0xffffffff ? code : undefined;
}

function errnoName(id: number): string | undefined {
  if (id <= 0 || id > 4095) return undefined;
  try {
    const name = getSystemErrorName(-id);
    return name.startsWith('Unknown system error') ? undefined : name;
  } catch {
    return undefined;
  }
}
