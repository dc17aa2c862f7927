// The event stream (GET /api/v1/events) with reconnection: after a drop it reconnects with
// ?since=<last seq seen> and so misses nothing; a `resync` frame (the daemon restarted, or we
// were away too long) asks the app to fetch the state again.
import { api, wsUrl } from './api.js';

export class EventStream {
  constructor({ onEvent, onResync, onStatus, types }) {
    Object.assign(this, { onEvent, onResync, onStatus, types });
    this.since = 0; // 0: replay everything retained (the state history shown per VM)
    this.delay = 250;
    this.stopped = false;
  }

  start() { this.stopped = false; this.connect(); }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }

  connect() {
    // The type list goes unescaped: the server takes commas as they are, not %2C.
    const types = this.types ? '&types=' + this.types.join(',') : '';
    const ws = new WebSocket(wsUrl('/api/v1/events', { since: String(this.since) }) + types);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => { opened = true; this.delay = 250; this.onStatus('live'); };
    ws.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.type === 'resync') {
        this.onResync(e); // the retained events follow it; `since` moves on with them
        return;
      }
      if (e.type === 'vm.stats') { this.onEvent(e); return; } // live figures: they do not advance seq
      if (e.seq <= this.since) return; // already seen (never expected; cheap to be sure)
      this.since = e.seq;
      this.onEvent(e);
    };
    ws.onclose = async () => {
      if (this.stopped || ws !== this.ws) return;
      this.onStatus('reconnecting');
      if (!opened) {
        // The upgrade was refused: a 401 shows up on a plain request (which signs out).
        try { await api('GET', '/api/v1/health'); } catch (e) { if (e.status === 401) return; }
      }
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }
}
