import { expect } from 'chai';
import { InputError } from '../../src/util/failure.js';
import { checkLoopbackHostPort, formatHostPort, isLoopbackAddress, loopbackHttpUrl, parseLoopbackHostPort, type LoopbackHostPortOptions } from '../../src/util/loopback-address.js';

const LISTEN: LoopbackHostPortOptions = { use: 'listen' };
const CONNECT: LoopbackHostPortOptions = { use: 'connect' };

/** The InputError `fn` throws (fails the test when it throws nothing or something else). */
function refusal(fn: () => unknown): InputError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'an InputError').to.be.instanceOf(InputError);
  return thrown as InputError;
}

describe('loopback addresses (src/util/loopback-address.ts)', () => {
  describe('isLoopbackAddress', () => {
    it('accepts 127.0.0.0/8, ::1 in any spelling and ::ffff:127.x.y.z, bracketed IPv6 too', () => {
      for (const yes of [
        '127.0.0.1',
        '127.0.0.0',
        '127.1.2.3',
        '127.255.255.254',
        '127.255.255.255',
        '::1',
        '0:0:0:0:0:0:0:1',
        '0000:0000:0000:0000:0000:0000:0000:0001',
        '::0:1',
        '::ffff:127.0.0.1',
        '::FFFF:127.1.2.3',
        '::ffff:7f00:1',
        '[::1]',
        '[0:0:0:0:0:0:0:1]',
        '[::ffff:127.0.0.1]',
      ]) {
        expect(isLoopbackAddress(yes), yes).to.equal(true);
      }
    });

    it('refuses host names (localhost too), every-interface addresses, other networks and malformed text', () => {
      for (const no of [
        'localhost',
        'LOCALHOST',
        'localhost.',
        'ip6-localhost',
        'example.com',
        '127.0.0.1.example.com',
        '0.0.0.0',
        '::',
        '[::]',
        '128.0.0.1',
        '126.255.255.255',
        '10.0.0.1',
        '192.168.35.2',
        '::ffff:10.0.0.1',
        '::ffff:0.0.0.0',
        '::127.0.0.1', // IPv4-compatible, not IPv4-mapped
        '::ffff:0:127.0.0.1', // IPv4-translated
        '::2',
        'fe80::1',
        '::1%lo', // a zone index: not a plain literal
        '127.1', // inet_aton shorthand
        '127.000.000.001',
        '0177.0.0.1',
        '127.0.0.256',
        '127.0.0.1 ',
        ' 127.0.0.1',
        '[127.0.0.1]',
        '[::1',
        '::1]',
        '[[::1]]',
        '',
      ]) {
        expect(isLoopbackAddress(no), JSON.stringify(no)).to.equal(false);
      }
    });
  });

  describe('parseLoopbackHostPort', () => {
    it('reads HOST:PORT and [V6]:PORT into a bare host and a number', () => {
      expect(parseLoopbackHostPort('127.0.0.1:8480', '--listen', LISTEN)).to.deep.equal({ host: '127.0.0.1', port: 8480 });
      expect(parseLoopbackHostPort('127.255.255.254:1', '--listen', LISTEN)).to.deep.equal({ host: '127.255.255.254', port: 1 });
      expect(parseLoopbackHostPort('[::1]:7430', '--listen', LISTEN)).to.deep.equal({ host: '::1', port: 7430 });
      expect(parseLoopbackHostPort('[0:0:0:0:0:0:0:1]:65535', '--listen', LISTEN)).to.deep.equal({ host: '0:0:0:0:0:0:0:1', port: 65535 });
      expect(parseLoopbackHostPort('[::ffff:127.0.0.1]:80', '--board', CONNECT)).to.deep.equal({ host: '::ffff:127.0.0.1', port: 80 });
      expect(parseLoopbackHostPort('  127.0.0.1:80\n', '--board', CONNECT)).to.deep.equal({ host: '127.0.0.1', port: 80 });
    });

    it('takes port 0 (any free port) only for listening, and nothing above 65535', () => {
      expect(parseLoopbackHostPort('127.0.0.1:0', '--listen', LISTEN)).to.deep.equal({ host: '127.0.0.1', port: 0 });
      const zero = refusal(() => parseLoopbackHostPort('127.0.0.1:0', '--board', CONNECT));
      expect(zero.code).to.equal('address-invalid');
      expect(zero.message).to.equal('--board: port 0 is not in 1..65535');
      const high = refusal(() => parseLoopbackHostPort('127.0.0.1:65536', '--listen', LISTEN));
      expect(high.code).to.equal('listen-invalid');
      expect(high.message).to.equal('--listen: port 65536 is not in 0..65535 (0: any free port)');
      expect(refusal(() => parseLoopbackHostPort('[::1]:99999', '--listen', LISTEN)).message).to.include('port 99999 is not in 0..65535');
    });

    it('takes a bare PORT as 127.0.0.1:PORT only where the caller allows it', () => {
      expect(parseLoopbackHostPort('40123', '--control', { use: 'connect', barePort: true })).to.deep.equal({ host: '127.0.0.1', port: 40123 });
      expect(parseLoopbackHostPort('[::1]:40123', '--control', { use: 'connect', barePort: true })).to.deep.equal({ host: '::1', port: 40123 });
      expect(refusal(() => parseLoopbackHostPort('0', '--control', { use: 'connect', barePort: true })).code).to.equal('address-invalid');
      const bare = refusal(() => parseLoopbackHostPort('8480', '--listen', LISTEN));
      expect(bare.code).to.equal('listen-invalid');
      expect(bare.message).to.equal(`--listen: expected HOST:PORT with a loopback HOST, such as 127.0.0.1:PORT or [::1]:PORT, got "8480"`);
    });

    it('refuses malformed text with a message naming what and the text given', () => {
      const cases: Array<[string, RegExp]> = [
        ['', /got ""$/],
        ['   ', /got " {3}"$/],
        ['127.0.0.1', /got "127\.0\.0\.1"$/],
        ['127.0.0.1:', /got "127\.0\.0\.1:"$/],
        [':8480', /got ":8480"$/],
        ['127.0.0.1:8480:1', /got "127\.0\.0\.1:8480:1"$/],
        ['127.0.0.1::8480', /got "127\.0\.0\.1::8480"$/],
        ['127.0.0.1:port', /got "127\.0\.0\.1:port"$/],
        ['127.0.0.1:-1', /got "127\.0\.0\.1:-1"$/],
        ['127.0.0.1:+80', /got "127\.0\.0\.1:\+80"$/],
        ['127.0.0.1:80 80', /got "127\.0\.0\.1:80 80"$/],
        ['::1:8480', /got "::1:8480" \(an IPv6 address goes in brackets: \[::1\]:PORT\)$/],
        ['::1', /got "::1" \(an IPv6 address goes in brackets: \[::1\]:PORT\)$/],
        ['[::1]', /got "\[::1\]"$/],
        ['[::1]8480', /got "\[::1\]8480"$/],
        ['[::1:8480', /got "\[::1:8480"$/],
        ['http://127.0.0.1:8480', /got "http:\/\/127\.0\.0\.1:8480"/],
      ];
      for (const [text, tail] of cases) {
        const error = refusal(() => parseLoopbackHostPort(text, 'rigs/r.yaml: at $.daemon.listen', LISTEN));
        expect(error.code, text).to.equal('listen-invalid');
        expect(error.message, text).to.match(/^rigs\/r\.yaml: at \$\.daemon\.listen: expected HOST:PORT with a loopback HOST/);
        expect(error.message, text).to.match(tail);
      }
      const v4InBrackets = refusal(() => parseLoopbackHostPort('[127.0.0.1]:80', '--board', CONNECT));
      expect(v4InBrackets.code).to.equal('address-invalid');
      expect(v4InBrackets.message).to.equal('--board: brackets hold an IPv6 address, got [127.0.0.1] in "[127.0.0.1]:80"');
      expect(refusal(() => parseLoopbackHostPort('[]:80', '--board', CONNECT)).message).to.include('brackets hold an IPv6 address');
    });

    it("refuses localhost, suggesting 127.0.0.1, and says why", () => {
      for (const text of ['localhost:8480', 'LocalHost:8480']) {
        const error = refusal(() => parseLoopbackHostPort(text, '--listen', LISTEN));
        expect(error.code, text).to.equal('non-loopback-address');
        expect(error.message, text).to.match(/^--listen: 'localhost' is a host name, not a loopback address: give 127\.0\.0\.1 \(or \[::1\]\)/);
        expect(error.message, text).to.include('not ours to guarantee');
      }
    });

    it('refuses 0.0.0.0 and :: as every interface, other addresses and host names as not loopback', () => {
      for (const [text, host] of [
        ['0.0.0.0:8480', '0.0.0.0'],
        ['[::]:8480', '::'],
        ['[0:0:0:0:0:0:0:0]:8480', '0:0:0:0:0:0:0:0'],
      ]) {
        const error = refusal(() => parseLoopbackHostPort(text!, '--listen', LISTEN));
        expect(error.code, text).to.equal('non-loopback-address');
        expect(error.message, text).to.equal(
          `--listen: ${host} is not a loopback address (it means every interface); sphere-rig serves and connects on literal loopback addresses only (127.0.0.0/8, ::1): give 127.0.0.1`,
        );
      }
      for (const [text, host] of [
        ['128.0.0.1:80', '128.0.0.1'],
        ['10.0.0.1:80', '10.0.0.1'],
        ['[::ffff:10.0.0.1]:80', '::ffff:10.0.0.1'],
        ['[fe80::1]:80', 'fe80::1'],
      ]) {
        const error = refusal(() => parseLoopbackHostPort(text!, '--board', CONNECT));
        expect(error.code, text).to.equal('non-loopback-address');
        expect(error.message, text).to.equal(`--board: ${host} is not a loopback address; sphere-rig serves and connects on literal loopback addresses only (127.0.0.0/8, ::1)`);
        expect(error.details, text).to.deep.equal({ what: '--board', host });
      }
      const name = refusal(() => parseLoopbackHostPort('example.com:443', '--board', CONNECT));
      expect(name.code).to.equal('non-loopback-address');
      expect(name.message).to.equal(`--board: 'example.com' is not a loopback address (host names are refused); sphere-rig serves and connects on literal loopback addresses only (127.0.0.0/8, ::1)`);
      // a loopback-looking name is still a name
      expect(refusal(() => parseLoopbackHostPort('127.0.0.1.nip.io:80', '--board', CONNECT)).code).to.equal('non-loopback-address');
    });

    it('checks the host before the port, so a bad host is never hidden behind a port complaint', () => {
      expect(refusal(() => parseLoopbackHostPort('0.0.0.0:65536', '--listen', LISTEN)).code).to.equal('non-loopback-address');
    });

    it('keeps long or odd text short in messages', () => {
      const long = `${'a'.repeat(5000)}:1`;
      expect(refusal(() => parseLoopbackHostPort(long, '--board', CONNECT)).message.length).to.be.below(400);
      expect(refusal(() => parseLoopbackHostPort(`${'1'.repeat(5000)}`, '--board', CONNECT)).message.length).to.be.below(400);
    });
  });

  describe('checkLoopbackHostPort and formatHostPort', () => {
    it('checks an address already split, unbracketing IPv6', () => {
      expect(checkLoopbackHostPort({ host: '[::1]', port: 0 }, 'the control channel', LISTEN)).to.deep.equal({ host: '::1', port: 0 });
      expect(refusal(() => checkLoopbackHostPort({ host: '127.0.0.1', port: 1.5 }, 'x', LISTEN)).code).to.equal('listen-invalid');
      expect(refusal(() => checkLoopbackHostPort({ host: '127.0.0.1', port: Number.NaN }, 'x', CONNECT)).code).to.equal('address-invalid');
      expect(refusal(() => checkLoopbackHostPort({ host: '127.0.0.1', port: -1 }, 'x', LISTEN)).code).to.equal('listen-invalid');
      expect(refusal(() => checkLoopbackHostPort({ host: 'localhost', port: 80 }, 'x', CONNECT)).code).to.equal('non-loopback-address');
    });

    it('puts IPv6 addresses in brackets, once', () => {
      expect(formatHostPort('127.0.0.1', 8480)).to.equal('127.0.0.1:8480');
      expect(formatHostPort('::1', 8480)).to.equal('[::1]:8480');
      expect(formatHostPort('[::1]', 8480)).to.equal('[::1]:8480');
    });
  });

  describe('loopbackHttpUrl', () => {
    const refused = (text: string): InputError => refusal(() => loopbackHttpUrl(text, '--daemon'));

    it('gives http:// URLs on loopback back without the trailing slash', () => {
      expect(loopbackHttpUrl('http://127.0.0.1:8480/', '--daemon')).to.equal('http://127.0.0.1:8480');
      expect(loopbackHttpUrl('http://[::1]:8480/daa//', '--daemon')).to.equal('http://[::1]:8480/daa');
    });

    it('refuses other schemes, host names, other addresses and non-URLs, naming where the URL came from', () => {
      expect(refused('https://127.0.0.1:8480')).to.include({ code: 'url-invalid', message: '--daemon: only http:// on loopback is supported, got https:' });
      expect(refused('127.0.0.1:8480').code).to.equal('url-invalid');
      expect(refused('not a url')).to.include({ code: 'url-invalid', message: "--daemon: 'not a url' is not a URL (expected http://127.0.0.1:PORT)" });
      expect(refused('http://localhost:8480').code).to.equal('non-loopback-address');
      expect(refused('http://192.168.35.2').message).to.match(/^--daemon: 192\.168\.35\.2 is not a loopback address/);
      expect(refused('http://0.0.0.0:8480').message).to.contain('it means every interface');
      expect(refused('http://[::]:8480').message).to.equal(`--daemon: :: is not a loopback address (it means every interface); sphere-rig serves and connects on literal loopback addresses only (127.0.0.0/8, ::1): give 127.0.0.1`);
      for (const url of ['http://127.0.0.1:8480/?x=1', 'http://127.0.0.1:8480/#top', 'http://user:pw@127.0.0.1:8480']) {
        expect(refused(url), url).to.include({ code: 'url-invalid', message: '--daemon: give a base URL such as http://127.0.0.1:PORT, without a query, fragment or user name' });
      }
    });
  });
});
