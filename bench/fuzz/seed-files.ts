import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the seeds on disk are: the project's fixtures, its rig files, and the YAML
 * test fixtures (read as data; bench code imports nothing from test/).
 */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

export function readRepoFile(...parts: string[]): Buffer {
  return readFileSync(repoPath(...parts));
}

/** The files of a repo folder whose names end in `suffix`, sorted (so seeds come in a stable order); none if it is missing. */
export function repoFilesIn(folder: string, suffix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(repoPath(folder));
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => join(folder, name));
}
