// The serial console of one VM in xterm.js over GET /api/v1/vms/{name}/console (binary frames
// both ways). xterm.js (from npm, served from node_modules) loads only when a console is opened.
// The console follows the VM: it connects while the VM runs, says why when it ends, and connects
// again when the VM runs again.
import { wsUrl } from './api.js';

let xterm = null; // the loaded modules, once
async function load() {
  if (!xterm) {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = 'node_modules/@xterm/xterm/css/xterm.css';
    document.head.append(css);
    const [x, fit] = await Promise.all([import('./node_modules/@xterm/xterm/lib/xterm.mjs'),
      import('./node_modules/@xterm/addon-fit/lib/addon-fit.mjs')]);
    xterm = { Terminal: x.Terminal, FitAddon: fit.FitAddon };
  }
  return xterm;
}

export class ConsoleView {
  constructor(box, status, vm) {
    Object.assign(this, { box, status, vm });
    this.closed = false;
    this.ws = null;
    this.term = null;
  }

  async ensureTerminal() {
    if (this.term) return;
    const { Terminal, FitAddon } = await load();
    if (this.closed) return;
    this.term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, lineHeight: 1.2, scrollback: 5000,
      theme: { background: '#111111' } });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    this.box.replaceChildren();
    this.term.open(this.box);
    this.fit.fit();
    this.onResize = () => this.fit.fit();
    window.addEventListener('resize', this.onResize);
    const enc = new TextEncoder();
    this.term.onData((d) => { if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(enc.encode(d)); });
  }

  // Follows the VM's state: connect while it runs.
  async vmState(s) {
    if (this.closed) return;
    const runs = s === 'running' || s === 'paused' || s === 'starting';
    this.runs = runs;
    if (!runs) {
      if (!this.ws) this.status.textContent = `${this.vm} is ${s}: its console opens when it runs.`;
      return;
    }
    if (this.ws) return;
    await this.ensureTerminal();
    if (this.closed || this.ws) return;
    this.connect();
  }

  connect() {
    const ws = new WebSocket(wsUrl(`/api/v1/vms/${encodeURIComponent(this.vm)}/console`));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.status.textContent = 'connecting…';
    ws.onopen = () => { this.status.textContent = 'connected'; this.term.focus(); };
    ws.onmessage = (m) => this.term.write(new Uint8Array(m.data));
    ws.onclose = (c) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      const why = c.reason || (c.code === 1006 ? 'the connection was lost' : 'closed');
      this.status.textContent = 'disconnected: ' + why;
      this.term.write(`\r\n\x1b[2m[console closed: ${why}]\x1b[0m\r\n`);
      // Not an end the VM announced (the daemon restarted, the network blipped): try again.
      if (c.code !== 1000 && this.runs) this.retry = setTimeout(() => { if (!this.closed && !this.ws && this.runs) this.connect(); }, 1000);
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(1000); }
    if (this.onResize) window.removeEventListener('resize', this.onResize);
    if (this.term) this.term.dispose();
    this.box.replaceChildren();
    this.status.textContent = '';
  }
}
