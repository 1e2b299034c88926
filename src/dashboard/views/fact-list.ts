import { h } from '../dom.js';

/** A term and its value for a <dl class="facts">; `data-fact` lets the compact card layout keep only the key facts. */
export function fact(term: string, ...value: Array<Node | string>): Node[] {
  const key = term.toLowerCase().replace(/\s+/g, '-');
  return [h('dt', { text: term, data: { fact: key } }), h('dd', { data: { fact: key } }, ...value)];
}
