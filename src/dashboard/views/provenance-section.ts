import type { RunRecord } from '../api-types.js';
import { h, replaceChildren } from '../dom.js';
import { formatBytes, shortId } from '../format.js';
import { copyButton } from './copy-button.js';

/** Where a run's result comes from: versions, the board, and every artefact by digest and signer. */
export class ProvenanceSection {
  readonly element = h('div', { class: 'provenance' });

  draw(record: RunRecord): void {
    const p = record.provenance;
    if (!p) {
      replaceChildren(this.element, h('p', { class: 'muted', text: record.status === 'finished' ? 'No provenance recorded (the run did not start).' : 'Recorded when the run ends.' }));
      return;
    }
    const dl = h(
      'dl',
      { class: 'facts wide' },
      h('dt', { text: 'Scenario' }),
      h('dd', {}, `${record.scenario} `, record.scenarioDigest ? h('code', { text: shortId(record.scenarioDigest.replace(/^sha256:/, ''), 12, 4), title: record.scenarioDigest }) : ''),
      h('dt', { text: 'Board' }),
      h('dd', {}, `${p.board.id} (${p.board.driver})`, p.board.usbSerial ? ` · USB ${p.board.usbSerial}` : ''),
      h('dt', { text: 'Device ID' }),
      h('dd', {}, ...(p.board.deviceId ? [h('code', { text: shortId(p.board.deviceId, 16, 8), title: p.board.deviceId }), ' ', copyButton(p.board.deviceId, 'device ID')] : ['—'])),
      h('dt', { text: 'OS version' }),
      h('dd', { text: p.osVersionBefore === p.osVersionAfter ? (p.osVersionAfter ?? '—') : `${p.osVersionBefore ?? '—'} → ${p.osVersionAfter ?? '—'}` }),
      h('dt', { text: 'Rig software' }),
      h('dd', { text: `daemon ${p.daemonVersion}${p.emulatorVersion ? ` · emulator ${p.emulatorVersion}` : ''}` }),
      h('dt', { text: 'Parameters' }),
      h('dd', { text: record.params && Object.keys(record.params).length ? JSON.stringify(record.params) : 'scenario defaults' }),
    );
    const artefacts = p.artefacts.length
      ? h(
          'table',
          { class: 'data-table' },
          h('caption', { text: 'Artefacts' }),
          h('thead', {}, h('tr', {}, ...['Name', 'Kind', 'Digest', 'Size', 'Signer'].map((t) => h('th', { text: t, attrs: { scope: 'col' } })))),
          h(
            'tbody',
            {},
            ...p.artefacts.map((a) =>
              h(
                'tr',
                { data: { artefact: a.name } },
                h('td', { text: a.name }),
                h('td', { text: a.kind }),
                h('td', {}, h('code', { text: shortId(a.digest, 19, 6), title: a.digest }), ' ', copyButton(a.digest, `digest of ${a.name}`)),
                h('td', { class: 'num', text: formatBytes(a.bytes) }),
                h('td', {}, a.signer ?? '—', a.signerThumbprint ? h('code', { class: 'muted small', text: ` ${shortId(a.signerThumbprint, 8, 4)}`, title: `SHA-1 thumbprint ${a.signerThumbprint}` }) : null),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted', text: 'No artefacts: this scenario built and installed nothing.' });
    replaceChildren(this.element, dl, artefacts);
  }
}
