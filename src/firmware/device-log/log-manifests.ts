import { LOG_MANIFEST_DATA } from './log-manifest-data.js';

/**
 * Microsoft's log manifests of Azure Sphere OS 24.06 (../shared/spec/device-log-format.md
 * section 4): one log category per manifest file, each message with its text
 * and ordered, typed parameters. They turn a device-log entry (category id,
 * message id, parameter bytes) into text, and tell the emulator how to write
 * one. Compiled into log-manifest-data.ts by tools/generate-log-manifests.ts.
 * Log category ids are their own numbering, not error-catalog categories.
 */
export type LogParamType = 'integer' | 'unsignedInteger' | 'ipAddress' | 'uniqueId' | 'string' | 'commonError';

export const LOG_PARAM_TYPES: readonly LogParamType[] = ['integer', 'unsignedInteger', 'ipAddress', 'uniqueId', 'string', 'commonError'];

export interface LogCategoryData {
  id: number;
  name: string;
  file: string;
  /** Message objects without an id (applaunch's `{}`): Microsoft's parser stops on any entry of this category. */
  placeholders?: number;
  messages: ReadonlyArray<readonly [id: number, name: string, text: string, priority: string, params: ReadonlyArray<readonly [name: string, type: string]>, obsolete?: true]>;
}

export interface LogParam {
  name: string;
  /** A type outside LOG_PARAM_TYPES prints `<name>: ` and takes no bytes (none occur in 24.06). */
  type: string;
}

export interface LogMessage {
  categoryId: number;
  categoryName: string;
  id: number;
  name: string;
  text: string;
  /** The manifest's priority; the parser prints the entry's own priority byte instead. */
  priority: string;
  params: readonly LogParam[];
  obsolete: boolean;
}

export interface LogCategory {
  id: number;
  name: string;
  file: string;
  /** True for a category whose manifest holds a message without an id (11 applaunch): never write it. */
  unusable: boolean;
  messages: ReadonlyMap<number, LogMessage>;
}

/** Entry priorities (the byte at entry offset 3) and how the parser names them. */
export const LOG_PRIORITY_NAMES = ['None', 'Fatal', 'Error', 'Warning', 'Info', 'Debug', 'Trace'] as const;
export type LogPriorityName = (typeof LOG_PRIORITY_NAMES)[number];

const categories = new Map<number, LogCategory>(
  LOG_MANIFEST_DATA.map((data) => {
    const messages = new Map<number, LogMessage>(
      data.messages.map(([id, name, text, priority, params, obsolete]) => [
        id,
        { categoryId: data.id, categoryName: data.name, id, name, text, priority, params: params.map(([pName, type]) => ({ name: pName, type })), obsolete: obsolete === true },
      ]),
    );
    return [data.id, { id: data.id, name: data.name, file: data.file, unusable: (data.placeholders ?? 0) > 0, messages }];
  }),
);
const categoriesByName = new Map<string, LogCategory>([...categories.values()].map((c) => [c.name, c]));

export function logCategories(): LogCategory[] {
  return [...categories.values()];
}

export function logCategory(id: number): LogCategory | undefined {
  return categories.get(id);
}

export function logMessage(categoryId: number, messageId: number): LogMessage | undefined {
  return categories.get(categoryId)?.messages.get(messageId);
}

/**
 * A message by its category and message names, e.g. `('appman_apps', 'StartingApp')`.
 * A current message wins over an obsolete one of the same name (networkd
 * lists `ConnectedStatusChanged` as 120, obsolete, and 248). Throws for a name the manifests lack, so a typo
 * in a table of messages fails when that table loads.
 */
export function logMessageByName(categoryName: string, messageName: string): LogMessage {
  const category = categoriesByName.get(categoryName);
  const named = [...(category?.messages.values() ?? [])].filter((m) => m.name === messageName);
  const message = named.find((m) => !m.obsolete) ?? named[0];
  if (!category || !message) throw new Error(`the OS 24.06 log manifests have no ${categoryName}/${messageName}`);
  return message;
}

export function logPriority(name: string): number {
  const index = (LOG_PRIORITY_NAMES as readonly string[]).indexOf(name);
  if (index < 0) throw new Error(`unknown log priority ${JSON.stringify(name)}`);
  return index;
}
