import { DashboardApp } from './dashboard-app.js';
import { takeTokenFromFragment } from './session-token.js';

// A `#token=...` link signs in and leaves the address bar at once.
takeTokenFromFragment();
new DashboardApp(document.getElementById('app')!).start();
