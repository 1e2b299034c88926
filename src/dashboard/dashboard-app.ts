import { ApiClient, ApiError } from './api-client.js';
import { h, replaceChildren, setText } from './dom.js';
import { EventStream } from './event-stream.js';
import { FrameScheduler } from './frame-scheduler.js';
import { RigModel } from './rig-model.js';
import { RigSync } from './rig-sync.js';
import { parseRoute, type Route } from './router.js';
import { forgetToken, storedToken, storeToken } from './session-token.js';
import type { View, ViewContext } from './view-context.js';
import { BoardView } from './views/board-view.js';
import { ConnectionStatus } from './views/connection-status.js';
import { HistoryView } from './views/history-view.js';
import { loginView } from './views/login-view.js';
import { RigView } from './views/rig-view.js';
import { RunView } from './views/run-view.js';
import { RunsView } from './views/runs-view.js';
import { Toasts } from './views/toasts.js';

/**
 * The page: header (navigation, connection, who is signed in), the view of the
 * current route, and the wiring between the stream, the model and the API.
 * Signing in starts the stream; a refused token stops it and asks again.
 */
const STREAM_TOPICS = ['board:*', 'run:*', 'console:*', 'system'];
const VIEW_TITLES: Record<Route['view'], string> = { rig: 'Rig', board: 'Board', runs: 'Runs', run: 'Run', history: 'History' };

export class DashboardApp {
  private token: string | null = storedToken();
  private readonly api = new ApiClient(() => this.token, () => this.refused('The daemon refused the token (revoked, or from another rig).'));
  private readonly frames = new FrameScheduler();
  private readonly sync = new RigSync(this.api);
  private readonly model = new RigModel(this.sync);
  private readonly toasts = new Toasts();
  private readonly context: ViewContext;
  private readonly main = h('main', { id: 'main', attrs: { tabindex: '-1' } });
  private readonly runCount = h('span', { class: 'count', hidden: true });
  private readonly navLinks = [
    h('a', { text: 'Rig', attrs: { href: '#/rig' }, data: { views: 'rig,board' } }),
    h('a', { attrs: { href: '#/runs' }, data: { views: 'runs,run' } }, 'Runs', this.runCount),
    h('a', { text: 'History', attrs: { href: '#/history' }, data: { views: 'history' } }),
  ];
  private readonly nav = h('nav', { attrs: { 'aria-label': 'Views' } }, ...this.navLinks);
  private readonly who = h('span', { class: 'who' });
  private readonly signOut = h('button', { class: 'button subtle', text: 'Sign out', attrs: { type: 'button' }, hidden: true });
  private readonly connection: ConnectionStatus;
  private stream: EventStream | null = null;
  private view: View | null = null;
  private routeShown = '';

  constructor(root: HTMLElement) {
    this.sync.attach(this.model);
    this.context = { model: this.model, sync: this.sync, api: this.api, frames: this.frames, toast: (level, message) => this.toasts.show(level, message) };
    this.connection = new ConnectionStatus(this.context, () => this.stream?.retryNow());
    this.signOut.addEventListener('click', () => {
      forgetToken();
      this.refused(null);
    });
    replaceChildren(
      root,
      h('a', { class: 'skip-link', text: 'Skip to content', attrs: { href: '#main' } }),
      h(
        'header',
        { class: 'top' },
        h('h1', { class: 'brand' }, 'sphere-rig ', h('span', { text: 'QA dashboard' })),
        this.nav,
        h('div', { class: 'top-status' }, this.connection.pill, this.who, this.signOut),
      ),
      this.connection.banner,
      this.main,
      this.toasts.element,
    );
    // The skip link must not change the route.
    root.querySelector('.skip-link')!.addEventListener('click', (event) => {
      event.preventDefault();
      this.main.focus();
    });
    this.model.changes.on('identity', () => this.drawWho());
    this.model.changes.on('runs', () => this.frames.schedule('nav', () => this.drawNav()));
    this.model.changes.on('notices', () => {
      const last = this.model.notices[this.model.notices.length - 1];
      if (last) this.toasts.show(last.level, last.message);
    });
    window.addEventListener('hashchange', () => this.route());
  }

  start(): void {
    if (!this.token) {
      this.showLogin(null);
      return;
    }
    this.connect();
  }

  private connect(): void {
    this.sync.start();
    this.stream = new EventStream({
      patterns: STREAM_TOPICS,
      token: () => this.token,
      onEvent: (event) => this.model.applyEvent(event),
      onStatus: (status) => this.model.setStream(status),
      onConnected: () => void this.sync.loadAll().catch((error: unknown) => this.loadFailed(error)),
      onMissed: () => {
        this.toasts.show('warn', 'Some events were deleted before the page saw them; reloading everything.');
        void this.sync.loadAll().catch((error: unknown) => this.loadFailed(error));
      },
      probe: () =>
        this.api.get('/api/v1/whoami').then(
          () => 'ok' as const,
          (error: unknown) => (error instanceof ApiError && error.status === 401 ? 'refused' : error instanceof ApiError && error.status === 0 ? 'unreachable' : 'ok'),
        ),
    });
    this.stream.start();
    this.signOut.hidden = false;
    this.routeShown = '';
    this.route();
  }

  private loadFailed(error: unknown): void {
    if (error instanceof ApiError && error.status === 401) return;
    this.toasts.show('error', `Could not load the rig: ${(error as Error).message}`);
  }

  /** The token is gone or refused: stop everything and ask for one. */
  private refused(problem: string | null): void {
    this.stream?.stop();
    this.stream = null;
    this.sync.stop();
    this.token = null;
    forgetToken();
    this.model.setIdentity(null);
    this.signOut.hidden = true;
    this.showLogin(problem);
  }

  private showLogin(problem: string | null): void {
    this.view?.destroy();
    this.view = null;
    this.routeShown = '';
    replaceChildren(
      this.main,
      loginView(problem, (token) => {
        this.token = token;
        storeToken(token);
        this.connect();
      }),
    );
    document.title = 'sphere-rig · sign in';
    this.drawNav();
  }

  private route(): void {
    if (!this.stream) return;
    const route = parseRoute(window.location.hash);
    const key = window.location.hash || '#/rig';
    if (key === this.routeShown) return;
    this.routeShown = key;
    this.view?.destroy();
    this.view = this.viewFor(route);
    replaceChildren(this.main, this.view.element);
    document.title = `sphere-rig · ${VIEW_TITLES[route.view]}`;
    this.drawNav();
    window.scrollTo(0, 0);
  }

  private viewFor(route: Route): View {
    switch (route.view) {
      case 'board':
        return new BoardView(this.context, route.boardId);
      case 'runs':
        return new RunsView(this.context);
      case 'run':
        return new RunView(this.context, route.runId);
      case 'history':
        return new HistoryView(this.context, route.query);
      case 'rig':
        return new RigView(this.context);
    }
  }

  /** Links are made once and updated in place, so a focused link keeps its focus while runs change. */
  private drawNav(): void {
    const current = this.stream ? parseRoute(window.location.hash).view : null;
    this.nav.hidden = !this.stream;
    for (const link of this.navLinks) {
      const views = link.dataset.views!.split(',');
      if (current && views.includes(current)) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const active = this.model.activeRuns().length;
    this.runCount.hidden = active === 0;
    setText(this.runCount, String(active));
    this.runCount.title = `${active} active runs`;
  }

  private drawWho(): void {
    const identity = this.model.identity;
    setText(this.who, identity ? `${identity.name} · ${identity.role}` : '');
    this.who.dataset.role = identity?.role ?? '';
  }
}
