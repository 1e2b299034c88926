/**
 * Which view the page shows, from the URL fragment: `#/rig`, `#/boards/<id>`,
 * `#/runs`, `#/runs/<id>`, `#/history?scenario=...`. Fragments keep every view
 * linkable and the back button working without a server-side route.
 */
export type Route =
  | { view: 'rig' }
  | { view: 'board'; boardId: string }
  | { view: 'runs' }
  | { view: 'run'; runId: string }
  | { view: 'history'; query: URLSearchParams };

export function parseRoute(hash: string): Route {
  const [path = '', queryText = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(queryText);
  if (parts[0] === 'boards' && parts[1]) return { view: 'board', boardId: parts[1] };
  if (parts[0] === 'runs' && parts[1]) return { view: 'run', runId: parts[1] };
  if (parts[0] === 'runs') return { view: 'runs' };
  if (parts[0] === 'history') return { view: 'history', query };
  return { view: 'rig' };
}

export const links = {
  rig: (): string => '#/rig',
  board: (id: string): string => `#/boards/${encodeURIComponent(id)}`,
  runs: (): string => '#/runs',
  run: (id: string): string => `#/runs/${encodeURIComponent(id)}`,
  history: (query?: URLSearchParams): string => `#/history${query && [...query.keys()].length ? `?${query.toString()}` : ''}`,
};

export function navigate(hash: string): void {
  if (window.location.hash !== hash) window.location.hash = hash;
}
