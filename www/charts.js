// A VM's figures as four live graphs (CPU, memory, disk, network) over the last hour. uPlot (from
// npm, served from node_modules) loads only when a VM's page opens them; the list never loads it.
// The history comes from GET /api/v1/vms/{name}/stats, then each vm.stats event adds a point.

const HOUR_MS = 3600 * 1000;
let loading = null;

function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const css = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: 'node_modules/uplot/dist/uPlot.min.css' });
      document.head.append(css);
      const s = Object.assign(document.createElement('script'), { src: 'node_modules/uplot/dist/uPlot.iife.min.js' });
      s.onload = () => resolve(window.uPlot);
      s.onerror = () => { loading = null; reject(new Error('cannot load the charting library')); };
      document.head.append(s);
    });
  }
  return loading;
}

const bytes = (n) => n == null ? '–' : n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + ' GiB' : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB'
  : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : Math.round(n) + ' B';
const perSec = (n) => bytes(n) + '/s';
const mibText = (n) => n == null ? '–' : n >= 1024 ? (n / 1024).toFixed(1) + ' GiB' : Math.round(n) + ' MiB';

// Each chart: its title, its series (key in a point, label, colour variable), and how values read.
const CHARTS = [
  { id: 'cpu', title: 'CPU', unit: (v) => v == null ? '–' : Math.round(v) + ' %', min: 100,
    series: [['cpu_pct', 'CPU', '--c1']] },
  { id: 'mem', title: 'Memory', unit: mibText,
    series: [['rss_mib', 'QEMU resident', '--c1'], ['guest_used_mib', 'guest in use', '--c2'], ['guest_total_mib', 'guest total', '--c3']] },
  { id: 'disk', title: 'Disk', unit: perSec,
    series: [['disk_rd_bps', 'read', '--c1'], ['disk_wr_bps', 'write', '--c2']] },
  { id: 'net', title: 'Network', unit: perSec,
    series: [['net_rx_bps', 'received', '--c1'], ['net_tx_bps', 'sent', '--c2']] },
];

export class VmCharts {
  // `box`: where the graphs go; `name`: the VM.
  constructor(box, name) {
    this.box = box;
    this.name = name;
    this.closed = false;
    this.data = null;     // columns: { t: [seconds], key: [values] }
    this.plots = [];
  }

  // The history, then the graphs.
  async open(stats) {
    const uPlot = await loadUplot();
    if (this.closed) return;
    const h = stats.history;
    this.data = { t: h.t.map((ms) => ms / 1000) };
    for (const c of CHARTS) for (const [k] of c.series) this.data[k] = h[k].slice();
    const css = getComputedStyle(document.documentElement);
    const colour = (v) => css.getPropertyValue(v).trim() || '#888';
    const axis = { stroke: colour('--muted'), grid: { stroke: colour('--line'), width: 1 }, ticks: { stroke: colour('--line') } };
    this.box.replaceChildren();
    for (const c of CHARTS) {
      const fig = document.createElement('figure');
      fig.className = 'chart';
      fig.dataset.chart = c.id;
      const cap = document.createElement('figcaption');
      cap.textContent = c.title;
      fig.append(cap);
      this.box.append(fig);
      const opts = {
        width: this.width(), height: 150,
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(hi, c.min || 1)] } },
        axes: [{ ...axis }, { ...axis, size: 84, values: (u, vals) => vals.map(c.unit) }],
        series: [{}, ...c.series.map(([, label, v]) => ({ label, stroke: colour(v), width: 1.5, value: (u, x) => c.unit(x), spanGaps: false }))],
      };
      this.plots.push({ c, fig, plot: new uPlot(opts, this.columns(c), fig) });
      fig.dataset.points = String(this.data.t.length);
    }
    this.resize = new ResizeObserver(() => { for (const p of this.plots) p.plot.setSize({ width: this.width(), height: 150 }); });
    this.resize.observe(this.box);
  }

  width() { return Math.max(200, Math.floor(this.box.clientWidth / (this.box.clientWidth >= 720 ? 2 : 1)) - 16); }

  columns(c) { return [this.data.t, ...c.series.map(([k]) => this.data[k])]; }

  // A vm.stats point of this VM.
  add(p) {
    if (!this.data || this.closed) return;
    const t = p.t / 1000;
    if (this.data.t.length && t <= this.data.t[this.data.t.length - 1]) return;
    this.data.t.push(t);
    for (const c of CHARTS) for (const [k] of c.series) this.data[k].push(p[k] ?? null);
    while (this.data.t.length && this.data.t[0] < t - HOUR_MS / 1000) for (const k of Object.keys(this.data)) this.data[k].shift();
    for (const { c, fig, plot } of this.plots) {
      plot.setData(this.columns(c));
      fig.dataset.points = String(this.data.t.length); // what the browser test reads
    }
  }

  close() {
    this.closed = true;
    if (this.resize) this.resize.disconnect();
    for (const p of this.plots) p.plot.destroy();
    this.plots = [];
    this.box.replaceChildren();
  }
}

// The figures of one point in words (the VM page's summary line and the list's cells).
export function summary(p) {
  if (!p) return '';
  const mem = p.guest_total_mib != null ? `memory ${mibText(p.guest_used_mib)} of ${mibText(p.guest_total_mib)} in use (guest)` : `memory ${mibText(p.rss_mib)} (QEMU)`;
  return `CPU ${Math.round(p.cpu_pct)} %, ${mem}, disk ${perSec(p.disk_rd_bps)} read / ${perSec(p.disk_wr_bps)} written, ` +
    `network ${perSec(p.net_rx_bps)} in / ${perSec(p.net_tx_bps)} out`;
}
export { mibText, bytes };
