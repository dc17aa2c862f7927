// The graphical console of one VM: noVNC (from npm, served from node_modules, loaded only when the
// screen is opened) over GET /api/v1/vms/{name}/vnc, which carries QEMU's VNC server. Like the
// serial console it follows the VM: connected while it runs, says why when it ends, connects again
// when the VM runs again.
import { wsUrl } from './api.js';

let RFB = null; // the loaded module, once
async function load() {
  if (!RFB) RFB = (await import('./node_modules/@novnc/novnc/core/rfb.js')).default;
  return RFB;
}

export class ScreenView {
  constructor(box, status, vm) {
    Object.assign(this, { box, status, vm });
    this.closed = false;
    this.rfb = null;
    this.runs = false;
  }

  async vmState(s) {
    if (this.closed) return;
    this.runs = s === 'running' || s === 'paused' || s === 'starting';
    if (!this.runs) {
      if (!this.rfb) this.status.textContent = `${this.vm} is ${s}: its screen shows when it runs.`;
      return;
    }
    if (this.rfb) return;
    const Rfb = await load();
    if (this.closed || this.rfb || !this.runs) return;
    this.connect(Rfb);
  }

  connect(Rfb) {
    this.box.replaceChildren();
    this.status.textContent = 'connecting…';
    const rfb = new Rfb(this.box, wsUrl(`/api/v1/vms/${encodeURIComponent(this.vm)}/vnc`), { wsProtocols: ['binary'] });
    rfb.scaleViewport = true;   // the guest's screen fits the box
    rfb.resizeSession = false;  // the guest keeps its own resolution
    rfb.focusOnClick = true;
    this.rfb = rfb;
    rfb.addEventListener('connect', () => { if (this.rfb === rfb) this.status.textContent = 'connected'; });
    rfb.addEventListener('desktopname', (e) => { if (this.rfb === rfb) this.status.textContent = 'connected: ' + e.detail.name; });
    rfb.addEventListener('disconnect', (e) => {
      if (this.rfb !== rfb) return;
      this.rfb = null;
      if (this.closed) return;
      this.status.textContent = e.detail.clean ? 'disconnected' : 'disconnected: the connection was lost';
      if (this.runs) this.retry = setTimeout(() => { if (!this.closed && !this.rfb && this.runs) this.connect(Rfb); }, 1000);
    });
  }

  ctrlAltDel() { if (this.rfb) this.rfb.sendCtrlAltDel(); }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    if (this.rfb) { const r = this.rfb; this.rfb = null; r.disconnect(); }
    this.box.replaceChildren();
    this.status.textContent = '';
  }
}
