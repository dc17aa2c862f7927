// Paddock dashboard: sign-in, the live VM list, create form, actions, VM detail with the serial
// console, the network page and the live event log. Plain modules, no build step. State comes
// from REST once, then from the event stream (no polling); a dropped stream reconnects with
// ?since= and misses nothing.
import { ApiError, api, get, token, whenUnauthorized } from './api.js';
import { EventStream } from './live.js';
import { renderNetwork } from './network.js';
import { ConsoleView } from './console.js';
import { ScreenView } from './screen.js';
import { VmCharts, summary, mibText, bytes } from './charts.js';

const $ = (s) => document.querySelector(s);
const el = (tag, { dataset, ...props } = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  if (dataset) Object.assign(e.dataset, dataset);
  for (const k of kids) if (k != null) e.append(k);
  return e;
};

const state = {
  vms: new Map(),       // name -> VM as the API returns it
  history: new Map(),   // name -> [{time, state, previous, reason}]
  events: [],           // newest last, at most 300
  network: null,
  leases: [],
  images: [],
  stats: new Map(),     // name -> its newest figures (vm.stats)
  page: null,
};
// Every event type the stream carries: all of them, vm.stats included (it is sent only when named).
const EVENT_TYPES = ['vm.created', 'vm.state', 'vm.ip', 'vm.removed', 'vm.blocked', 'vm.stats', 'lease.bound', 'lease.released',
  'lease.expired', 'link.changed', 'network.repaired', 'image.added', 'image.removed', 'vm.forwards'];
let stream = null;
let charts = null; // the VM page's graphs, while it shows
let consoleView = null;
let screenView = null; // only while the screen is shown

// ---- sign-in ----

function signedIn() { return token.get() !== ''; }

function showSignin(message = '') {
  if (stream) stream.stop();
  stream = null;
  if (consoleView) consoleView.close();
  consoleView = null;
  token.clear();
  document.body.classList.add('signed-out');
  for (const id of ['#nav', '#live', '#signout', '#eventlog']) $(id).hidden = true;
  showPage('signin');
  $('#signin-error').textContent = message;
  $('#signin-token').focus();
}

whenUnauthorized((message) => showSignin(message));

async function start() {
  try {
    await get('/api/v1/health'); // checks the token
  } catch (e) {
    if (e.status !== 401) showSignin(e.message);
    return;
  }
  document.body.classList.remove('signed-out');
  for (const id of ['#nav', '#live', '#signout', '#eventlog']) $(id).hidden = false;
  route();
  // The first frame is a resync (we ask for everything retained): it loads the state, and the
  // retained events that follow fill the event log and the VMs' state history.
  stream = new EventStream({ onEvent, onResync, onStatus: setLive, types: EVENT_TYPES });
  stream.start();
}

// Events up to `replayUntil` are history (the state already has them); live events that arrive
// while the state loads wait in `pending` and are applied on top of it, in order.
let replayUntil = 0;
let loading = null;
let pending = [];

async function onResync(e) {
  replayUntil = e.seq;
  if (loading) return;
  pending = [];
  loading = refresh().catch((x) => { if (x.status !== 401) toast(x.message); });
  await loading;
  loading = null;
  const later = pending;
  pending = [];
  for (const ev of later) apply(ev);
}

function setLive(s) {
  const l = $('#live');
  l.textContent = s === 'live' ? 'live' : 'reconnecting…';
  l.className = 'live ' + (s === 'live' ? 'ok' : 'down');
}

// ---- data ----

// The host's room for VMs, under the list's title (again after VMs start or stop, at most once a second).
let hostTimer = null;
function loadHost(delay = 0) {
  if (hostTimer) return;
  hostTimer = setTimeout(async () => {
    hostTimer = null;
    try {
      const h = await get('/api/v1/host');
      const gib = (mib) => (mib / 1024).toFixed(1) + ' GiB';
      $('#host-line').textContent = `Host: ${h.cpus} CPUs (${h.accel.toUpperCase()}), memory ${gib(h.memory_available_mib)} available of ` +
        `${gib(h.memory_total_mib)}, ${gib(h.memory_promised_mib)} promised to ${h.vms_running} running VM${h.vms_running === 1 ? '' : 's'}; ` +
        `${gib(h.state_dir_free_mib)} free for disks`;
    } catch (e) { /* the line stays as it was */ }
  }, delay);
}

async function refresh() {
  const [vms, images] = await Promise.all([get('/api/v1/vms'), get('/api/v1/images')]);
  loadHost();
  state.vms = new Map(vms.vms.map((v) => [v.name, v]));
  state.images = images.images;
  renderVms();
  fillImageSelects();
  if (state.page === 'vm') renderVm();
  if (state.page === 'network') loadNetwork();
}

async function refetchVm(name) {
  try {
    const v = await get('/api/v1/vms/' + encodeURIComponent(name));
    if (state.vms.has(name)) {
      state.vms.set(name, v);
      renderVms();
      if (state.page === 'vm' && state.detail === name) renderVm();
    }
  } catch (e) { /* removed meanwhile */ }
}

function onEvent(e) {
  if (e.type === 'vm.stats') return onStats(e); // live figures: not in the log, never replayed
  logEvent(e);
  if (e.type === 'vm.created') state.history.set(e.vm, []); // a name used again starts afresh
  if (e.type === 'vm.state') {
    if (!state.history.has(e.vm)) state.history.set(e.vm, []);
    state.history.get(e.vm).push({ time: e.time, ...e.data });
  }
  if (e.seq <= replayUntil) return; // history only
  if (loading) { pending.push(e); return; }
  apply(e);
}

function apply(e) {
  const v = e.vm && state.vms.get(e.vm);
  switch (e.type) {
    case 'vm.created':
      state.vms.set(e.vm, e.data);
      break;
    case 'vm.state':
      loadHost(1000);
      if (v) {
        v.state = e.data.state;
        v.state_reason = e.data.reason;
        if (e.data.state === 'running' || e.data.state === 'stopped' || e.data.state === 'failed') refetchVm(e.vm); // pid, started_at
      }
      break;
    case 'vm.ip':
      if (v) { v.ip = e.data.ip; v.ip_leased = true; }
      break;
    case 'vm.forwards':
      if (v) v.forwards = e.data.forwards;
      break;
    case 'vm.removed':
      state.vms.delete(e.vm);
      break;
    case 'image.added': case 'image.removed':
      get('/api/v1/images').then((i) => { state.images = i.images; fillImageSelects(); }).catch(() => {});
      return;
    case 'lease.bound': case 'lease.released': case 'lease.expired': case 'network.repaired': case 'link.changed':
      if (state.page === 'network') loadNetwork();
      return;
    case 'vm.blocked': // in the event log only
    default:
      return;
  }
  renderVms();
  if (state.page === 'vm' && state.detail === e.vm) {
    if (!state.vms.has(e.vm)) { location.hash = '#/vms'; return; }
    renderVm();
    if (e.type === 'vm.state' && consoleView) consoleView.vmState(e.data.state);
    if (e.type === 'vm.state' && screenView && e.vm === state.detail) screenView.vmState(e.data.state);
  }
}

// A VM's figures: its list cells, and its graphs when its page shows.
function onStats(e) {
  state.stats.set(e.vm, e.data);
  const tr = document.querySelector(`#vm-rows tr[data-vm="${CSS.escape(e.vm)}"]`);
  const v = state.vms.get(e.vm);
  if (tr && v) {
    tr.querySelector('td.cpu').textContent = cpuText(v);
    tr.querySelector('td.mem').textContent = memText(v);
  }
  if (state.page === 'vm' && state.detail === e.vm) {
    $('#vm-figures-now').textContent = summary(e.data);
    if (charts) charts.add(e.data);
  }
}

function running(v) { return v.state === 'running' || v.state === 'paused'; }
function cpuText(v) {
  const p = running(v) && state.stats.get(v.name);
  return `${v.cpus} vCPU` + (p ? ` · ${Math.round(p.cpu_pct)} %` : '');
}
function memText(v) {
  const p = running(v) && state.stats.get(v.name);
  const used = p ? (p.guest_used_mib != null ? p.guest_used_mib : p.rss_mib) : null;
  return `${v.memory_mib} MiB` + (used != null ? ` · ${mibText(used)} used` : '');
}

// ---- the event log ----

function describe(e) {
  const d = e.data || {};
  switch (e.type) {
    case 'vm.state': return `${d.previous} → ${d.state}${d.reason ? ' (' + d.reason + ')' : ''}`;
    case 'vm.ip': return d.ip;
    case 'lease.bound': case 'lease.released': case 'lease.expired': return `${d.ip} ${d.mac}`;
    case 'network.repaired': return (d.actions || []).join('; ');
    case 'vm.forwards': return (d.forwards || []).map(forwardText).join(', ') || 'none';
    default: return '';
  }
}

// Rows are added in batches (a reconnect replays up to 10,000 events; only the last 300 show).
let logQueue = [];
function logEvent(e) {
  logQueue.push(e);
  if (logQueue.length === 1) setTimeout(flushLog, 0);
}

function flushLog() {
  const list = $('#event-rows');
  const batch = logQueue.slice(-300);
  logQueue = [];
  const rows = batch.reverse().map((e) => {
    const li = el('li', {},
      el('time', { className: 't', dateTime: e.time, textContent: new Date(e.time).toLocaleTimeString([], { hour12: false }) }),
      el('span', { className: 'ty', textContent: e.type }),
      e.vm ? el('span', { textContent: e.vm + ' ' }) : null,
      el('span', { className: 'muted', textContent: describe(e) }));
    li.dataset.seq = e.seq;
    return li;
  });
  list.prepend(...rows);
  while (list.children.length > 300) list.lastChild.remove();
}

// ---- VM list ----

const can = {
  start: (s) => s === 'stopped' || s === 'failed',
  stop: (s) => s === 'running' || s === 'paused' || s === 'starting',
  force: (s) => s === 'running' || s === 'paused' || s === 'starting' || s === 'stopping',
  restart: (s) => s === 'running' || s === 'paused',
  pause: (s) => s === 'running',
  resume: (s) => s === 'paused',
  remove: () => true,
};
const labels = { start: 'Start', stop: 'Stop', force: 'Force stop', restart: 'Restart', pause: 'Pause', resume: 'Resume', remove: 'Remove' };

function badge(s) { return el('span', { className: 'badge ' + s, textContent: s }); }

function uptime(v) {
  if (!(v.state === 'running' || v.state === 'paused') || !v.started_at) return '';
  let s = Math.max(0, Math.floor((Date.now() - Date.parse(v.started_at)) / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

function boot(v) { return v.image ? 'image ' + v.image : v.kernel ? 'kernel ' + v.kernel : v.cdrom ? 'ISO ' + v.cdrom : ''; }

function actionButtons(v, small = true) {
  const box = el('span', { className: 'actions' });
  for (const a of Object.keys(can)) {
    const b = el('button', { type: 'button', textContent: labels[a], className: (small ? 'small ' : '') + (a === 'remove' || a === 'force' ? 'ghost' : '') });
    b.disabled = !can[a](v.state);
    b.setAttribute('aria-label', `${labels[a]} ${v.name}`);
    b.addEventListener('click', () => act(v.name, a));
    box.append(b);
  }
  return box;
}

function renderVms() {
  const rows = [...state.vms.values()].sort((a, b) => a.name.localeCompare(b.name)).map((v) => {
    const tr = el('tr', {},
      el('td', { className: 'name' }, el('a', { href: '#/vm/' + encodeURIComponent(v.name), textContent: v.name })),
      el('td', { dataset: { label: 'State' } }, badge(v.state)),
      el('td', { dataset: { label: 'IP' } }, v.ip || '', ' ', v.ip ? el('span', { className: v.ip_leased ? 'leased' : 'unleased', textContent: v.ip_leased ? '(leased)' : '(reserved)' }) : null),
      el('td', { className: 'num cpu', dataset: { label: 'CPU' }, textContent: cpuText(v) }),
      el('td', { className: 'num mem', dataset: { label: 'Memory' }, textContent: memText(v) }),
      el('td', { className: 'boot', dataset: { label: 'Boot' }, textContent: boot(v) }),
      el('td', { className: 'num uptime', dataset: { label: 'Uptime' }, textContent: uptime(v) }),
      el('td', { className: 'row-actions' }, actionButtons(v)));
    tr.dataset.vm = v.name;
    tr.dataset.state = v.state;
    return tr;
  });
  $('#vm-rows').replaceChildren(...rows);
  $('#vm-empty').hidden = rows.length > 0;
}

setInterval(() => {
  for (const td of document.querySelectorAll('#vm-rows td.uptime')) {
    const v = state.vms.get(td.parentElement.dataset.vm);
    if (v) td.textContent = uptime(v);
  }
}, 1000);

// ---- actions ----

function confirmDialog(text, ok) {
  const d = $('#confirm');
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = ok;
  return new Promise((resolve) => {
    const done = (v) => { d.close(); $('#confirm-ok').onclick = $('#confirm-cancel').onclick = null; resolve(v); };
    $('#confirm-ok').onclick = () => done(true);
    $('#confirm-cancel').onclick = () => done(false);
    d.oncancel = () => resolve(false);
    d.showModal();
    $('#confirm-cancel').focus();
  });
}

function toast(message) {
  const t = $('#toast');
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

async function act(name, a) {
  try {
    if (a === 'force' && !await confirmDialog(`Force stop ${name}? Like pulling the plug: the guest gets no chance to shut down.`, 'Force stop')) return;
    if (a === 'remove' && !await confirmDialog(`Remove ${name}? Its disk, address and console log go with it.`, 'Remove')) return;
    if (a === 'remove') await api('DELETE', '/api/v1/vms/' + encodeURIComponent(name));
    else if (a === 'force') await api('POST', `/api/v1/vms/${encodeURIComponent(name)}/stop`, { force: true });
    else await api('POST', `/api/v1/vms/${encodeURIComponent(name)}/${a}`);
  } catch (e) {
    if (e.status !== 401) toast(`${labels[a]} ${name}: ${e.message}`);
  }
}

// ---- create ----

function mib(n) { return n >= 1073741824 ? (n / 1073741824).toFixed(1) + ' GiB' : (n / 1048576).toFixed(1) + ' MiB'; }

function renderImages() {
  $('#image-rows').replaceChildren(...state.images.map((i) => {
    const del = el('button', { type: 'button', className: 'small ghost', textContent: 'Delete' });
    del.setAttribute('aria-label', 'Delete image ' + i.name);
    del.addEventListener('click', async () => {
      if (!await confirmDialog(`Delete image ${i.name}?`, 'Delete')) return;
      try { await api('DELETE', '/api/v1/images/' + encodeURIComponent(i.name)); }
      catch (e) { if (e.status !== 401) toast(`Delete ${i.name}: ${e.message}`); }
    });
    const tr = el('tr', {}, el('td', { textContent: i.name }), el('td', { textContent: i.kind }), el('td', { textContent: i.format }),
      el('td', { className: 'num', textContent: mib(i.size) }), el('td', { className: 'hash', textContent: i.sha256.slice(0, 12) + '…', title: i.sha256 }),
      el('td', {}, del));
    tr.dataset.image = i.name;
    return tr;
  }));
}

// Uploads stream to PUT /api/v1/images/{name}; XMLHttpRequest because fetch reports no upload progress.
function upload(ev) {
  ev.preventDefault();
  const file = $('#u-file').files[0];
  const name = $('#u-name').value.trim() || (file ? file.name : '');
  $('#u-error').textContent = '';
  if (!file) { $('#u-error').textContent = 'Choose a file first.'; return; }
  const bar = $('#u-progress');
  const xhr = new XMLHttpRequest();
  xhr.open('PUT', '/api/v1/images/' + encodeURIComponent(name));
  xhr.setRequestHeader('Authorization', 'Bearer ' + token.get());
  xhr.upload.onprogress = (p) => {
    if (!p.lengthComputable) return;
    bar.value = Math.round((100 * p.loaded) / p.total);
    $('#u-status').textContent = `Uploading ${name}: ${mib(p.loaded)} of ${mib(p.total)}`;
  };
  xhr.onload = () => {
    $('#u-submit').disabled = false;
    bar.hidden = true;
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
    if (xhr.status === 201) {
      $('#u-status').textContent = `${name} added (${body.kind}, ${body.format}).`;
      $('#upload').reset();
    } else if (xhr.status === 401) {
      showSignin('The token was not accepted. Sign in with the current one from state_dir/api-token.');
    } else {
      $('#u-status').textContent = '';
      $('#u-error').textContent = body?.error?.message || `upload failed (HTTP ${xhr.status})`;
    }
  };
  xhr.onerror = () => { $('#u-submit').disabled = false; bar.hidden = true; $('#u-error').textContent = 'The upload was interrupted.'; };
  $('#u-submit').disabled = true;
  bar.value = 0;
  bar.hidden = false;
  xhr.send(file);
}

function fillImageSelects() {
  renderImages();
  const opts = (kinds, none) => [...(none ? [el('option', { value: '', textContent: '(none)' })] : []),
    ...state.images.filter((i) => kinds.includes(i.kind)).map((i) =>
      el('option', { value: i.name, textContent: `${i.name} (${i.format}, ${(i.size / 1048576).toFixed(1)} MiB)` }))];
  for (const [id, kinds, none] of [['#c-image', ['disk'], false], ['#c-kernel', ['kernel'], false], ['#c-initrd', ['initrd'], true],
    ['#c-cdrom', ['iso'], false]]) {
    const s = $(id);
    const keep = s.value;
    s.replaceChildren(...opts(kinds, none));
    if (keep) s.value = keep;
  }
}

function bootMode() { return new FormData($('#create')).get('boot'); }

function showBoot() {
  const mode = bootMode();
  for (const e of document.querySelectorAll('.boot-image, .boot-kernel, .boot-iso')) e.hidden = !e.classList.contains('boot-' + mode);
  $('#c-disk').required = mode === 'iso'; // an installer needs a disk to install to
}

function clearErrors() {
  for (const e of document.querySelectorAll('#create .field-error')) e.textContent = '';
  for (const e of document.querySelectorAll('#create [aria-invalid]')) e.removeAttribute('aria-invalid');
}

async function create(ev) {
  ev.preventDefault();
  clearErrors();
  const f = new FormData($('#create'));
  const spec = { name: f.get('name').trim(), cpus: Number(f.get('cpus')), memory_mib: Number(f.get('memory_mib')) };
  if (bootMode() === 'kernel') {
    spec.kernel = f.get('kernel');
    if (f.get('initrd')) spec.initrd = f.get('initrd');
    if (f.get('cmdline').trim()) spec.cmdline = f.get('cmdline').trim();
  } else {
    if (bootMode() === 'iso') spec.cdrom = f.get('cdrom');
    else spec.image = f.get('image');
    if (f.get('disk_gib')) spec.disk_gib = Number(f.get('disk_gib'));
    if (f.get('firmware') !== 'bios') spec.firmware = f.get('firmware');
  }
  for (const k of ['mac', 'ip']) if (f.get(k).trim()) spec[k] = f.get(k).trim();
  if (f.get('forwards').trim()) {
    const fw = parseForwards(f.get('forwards'));
    if (typeof fw === 'string') {
      $('#e-forwards').textContent = fw;
      $('#c-forwards').setAttribute('aria-invalid', 'true');
      $('#c-forwards').focus();
      return;
    }
    spec.forwards = fw;
  }
  if (f.get('autostart') !== 'never') spec.autostart = f.get('autostart');
  if (f.get('start')) spec.start = true;
  const button = $('#create button[type=submit]');
  button.disabled = true;
  try {
    await api('POST', '/api/v1/vms', spec);
    $('#create').reset();
    showBoot();
    toggleCreate(false);
  } catch (e) {
    if (e.status === 401) return;
    const field = e instanceof ApiError && (e.message.startsWith('forwards') ? 'forwards' : e.field);
    const out = field && $('#e-' + field);
    if (out) {
      out.textContent = e.message;
      const input = $('#create [name="' + field + '"]');
      if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
    } else {
      $('#e-form').textContent = e.message;
    }
  } finally {
    button.disabled = false;
  }
}

function toggleCreate(open) {
  $('#create').hidden = !open;
  $('#new-vm').setAttribute('aria-expanded', String(open));
  if (open) { clearErrors(); $('#c-name').focus(); }
}

// ---- port forwards ----

// "tcp/8080:80" (or "tcp/8080:80@203.0.113.1"; the guest port defaults to the host port).
function forwardText(f) { return `${f.proto}/${f.host_port}:${f.guest_port}${f.listen !== '0.0.0.0' ? '@' + f.listen : ''}`; }

// "tcp/8080:80, udp/5353:53@10.0.0.1" -> [{proto, host_port, guest_port, listen}], or a message.
function parseForwards(text) {
  const out = [];
  for (const item of text.split(/[,\s]+/).filter(Boolean)) {
    const m = /^(tcp|udp)\/(\d{1,5})(?::(\d{1,5}))?(?:@([0-9.]+))?$/.exec(item);
    if (!m) return `"${item}" is not like tcp/8080:80 (protocol/host port:guest port, optionally @listen address)`;
    const f = { proto: m[1], host_port: Number(m[2]) };
    if (m[3]) f.guest_port = Number(m[3]);
    if (m[4]) f.listen = m[4];
    out.push(f);
  }
  return out;
}

function renderForwards(v) {
  const rows = (v.forwards || []).map((f) => {
    const del = el('button', { className: 'small ghost', textContent: 'Remove', ariaLabel: `Remove forward ${f.proto}/${f.host_port}` });
    del.addEventListener('click', () => removeForward(v.name, f));
    return el('tr', { dataset: { fw: `${f.proto}/${f.host_port}` } }, el('td', { textContent: `${f.proto}/${f.host_port}` }),
      el('td', { textContent: String(f.guest_port) }), el('td', { textContent: f.listen }), el('td', {}, del));
  });
  $('#fw-rows').replaceChildren(...rows);
  $('#fw-empty').hidden = rows.length > 0;
}

async function addForward(ev) {
  ev.preventDefault();
  const name = state.detail;
  const f = new FormData($('#fw-form'));
  const host = f.get('host_port').trim();
  const body = {};
  if (f.get('guest_port').trim()) body.guest_port = Number(f.get('guest_port'));
  if (f.get('listen').trim()) body.listen = f.get('listen').trim();
  $('#fw-status').textContent = '';
  try {
    await api('PUT', `/api/v1/vms/${encodeURIComponent(name)}/forwards/${f.get('proto')}/${encodeURIComponent(host)}`, body);
    $('#fw-form').reset();
  } catch (e) {
    if (e.status !== 401) $('#fw-status').textContent = e.message;
  }
}

async function removeForward(name, f) {
  $('#fw-status').textContent = '';
  try { await api('DELETE', `/api/v1/vms/${encodeURIComponent(name)}/forwards/${f.proto}/${f.host_port}`); }
  catch (e) { if (e.status !== 401) $('#fw-status').textContent = e.message; }
}

// ---- VM detail ----

function dl(target, pairs) {
  target.replaceChildren(...pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').flatMap(([k, v]) =>
    [el('dt', { textContent: k }), el('dd', {}, v)]));
}

function renderVm() {
  const v = state.vms.get(state.detail);
  if (!v) { $('#vm-title').textContent = state.detail + ' (no such VM)'; return; }
  $('#vm-title').textContent = v.name;
  $('#vm-badge').replaceChildren(badge(v.state));
  $('#vm-actions').replaceChildren(actionButtons(v, false));
  const auto = $('#vm-autostart');
  if (document.activeElement !== auto) auto.value = v.autostart || 'never';
  dl($('#vm-spec'), [['CPUs', String(v.cpus)], ['Memory', v.memory_mib + ' MiB'], ['Image', v.image],
    ['Disk', v.disk_gib ? v.disk_gib + ' GiB' : null], ['CD-ROM', v.cdrom],
    ['Firmware', v.firmware === 'uefi' ? 'UEFI' : v.kernel ? null : 'BIOS'], ['Boot order', v.boot_order?.length ? v.boot_order.join(', ') : null], ['Kernel', v.kernel], ['Initrd', v.initrd], ['Command line', v.cmdline],
    ['Accel', v.accel], ['PID', v.pid ? String(v.pid) : null], ['Created', v.created_at ? new Date(v.created_at).toLocaleString() : null],
    ['Started', v.started_at ? new Date(v.started_at).toLocaleString() : null], ['Reason', v.state_reason]]);
  const lease = state.leases.find((l) => l.mac === v.mac);
  dl($('#vm-net'), [['IP', v.ip], ['IPv6', v.ipv6], ['Lease', v.ip_leased ? 'held by the guest' : 'reserved, not leased yet'],
    ['Lease expires', lease?.expires_at ? new Date(lease.expires_at).toLocaleString() : null], ['MAC', v.mac], ['TAP', v.tap]]);
  renderForwards(v);
  const a = v.agent;
  $('#vm-agent-none').hidden = !!a;
  $('#vm-agent-none').textContent = running(v) ? 'No agent: install qemu-guest-agent in the guest to see its OS, addresses and disks here.' : 'No agent (the VM is not running).';
  dl($('#vm-agent'), a ? [['OS', a.os.name], ['Kernel', a.os.kernel], ['Host name', a.hostname], ['Agent', a.version],
    ['Addresses', a.interfaces.map((i) => `${i.name}: ${i.addresses.join(', ')}`).join('; ')],
    ...a.filesystems.filter((f) => f.total_bytes).map((f) => [f.mountpoint, `${bytes(f.used_bytes)} of ${bytes(f.total_bytes)} used (${f.type})`])] : []);
  if (!running(v)) $('#vm-figures-now').textContent = 'Not running: the graphs show its last hour while it ran.';
  const h = state.history.get(v.name) || [];
  $('#vm-history').replaceChildren(...h.slice(-50).reverse().map((x) =>
    el('li', {}, el('time', { dateTime: x.time, textContent: new Date(x.time).toLocaleTimeString([], { hour12: false }) }), ' ',
      `${x.previous} → `, badge(x.state), x.reason ? ' ' + x.reason : '')));
}

async function openVm(name) {
  state.detail = name;
  renderVm();
  openCharts(name);
  get('/api/v1/leases').then((l) => { state.leases = l.leases; renderVm(); }).catch(() => {});
  if (consoleView) consoleView.close();
  consoleView = new ConsoleView($('#terminal'), $('#console-state'), name);
  const v = state.vms.get(name);
  consoleView.vmState(v ? v.state : 'stopped');
  $('#console-log').hidden = true;
  $('#console-log-toggle').setAttribute('aria-expanded', 'false');
  $('#console-log-toggle').textContent = 'Show log';
  showScreen(false);
}

// The VM's graphs: its last hour, then live from vm.stats.
async function openCharts(name) {
  if (charts) charts.close();
  const c = charts = new VmCharts($('#charts'), name);
  try {
    const s = await get(`/api/v1/vms/${encodeURIComponent(name)}/stats`);
    if (c !== charts) return;
    if (s.current) $('#vm-figures-now').textContent = summary(s.current);
    await c.open(s);
  } catch (e) { if (c === charts && e.status !== 404) $('#vm-figures-now').textContent = e.message; }
}

// The graphical console opens on demand: noVNC loads only then.
function showScreen(open) {
  if (screenView) { screenView.close(); screenView = null; }
  $('#screen').hidden = !open;
  $('#screen-cad').hidden = !open;
  $('#screen-toggle').setAttribute('aria-expanded', String(open));
  $('#screen-toggle').textContent = open ? 'Hide screen' : 'Show screen';
  if (!open) return;
  screenView = new ScreenView($('#screen'), $('#screen-state'), state.detail);
  const v = state.vms.get(state.detail);
  screenView.vmState(v ? v.state : 'stopped');
}

async function toggleLog() {
  const pre = $('#console-log');
  const open = pre.hidden;
  pre.hidden = !open;
  $('#console-log-toggle').setAttribute('aria-expanded', String(open));
  $('#console-log-toggle').textContent = open ? 'Hide log' : 'Show log';
  if (open) {
    try { pre.textContent = await api('GET', `/api/v1/vms/${encodeURIComponent(state.detail)}/console/log`); pre.scrollTop = pre.scrollHeight; }
    catch (e) { pre.textContent = e.message; }
  }
}

// Autostart changes at once (PATCH); the select shows the VM's value again if the change fails.
async function setAutostart() {
  const name = state.detail;
  const value = $('#vm-autostart').value;
  try {
    const v = await api('PATCH', '/api/v1/vms/' + encodeURIComponent(name), { autostart: value });
    if (state.vms.has(name)) state.vms.set(name, v);
    $('#vm-autostart-status').textContent = 'saved';
  } catch (e) {
    if (e.status !== 401) toast(`Autostart of ${name}: ${e.message}`);
    renderVm();
  }
}

// ---- network ----

async function loadNetwork() {
  try {
    const [n, l] = await Promise.all([get('/api/v1/network'), get('/api/v1/leases')]);
    state.network = n;
    state.leases = l.leases;
    renderNetwork(n, state.leases, [...state.vms.values()]);
  } catch (e) { if (e.status !== 401) toast(e.message); }
}

// ---- pages ----

function showPage(p) {
  state.page = p;
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== 'page-' + p;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === p || (p === 'vm' && a.dataset.page === 'vms')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route() {
  if (!signedIn()) return showSignin();
  const h = location.hash;
  if (h.startsWith('#/vm/')) {
    showPage('vm');
    openVm(decodeURIComponent(h.slice(5)));
  } else {
    if (consoleView) { consoleView.close(); consoleView = null; }
    if (screenView) { screenView.close(); screenView = null; }
    if (charts) { charts.close(); charts = null; }
    if (h === '#/network') { showPage('network'); loadNetwork(); }
    else showPage('vms');
  }
  document.title = 'Paddock — ' + (state.page === 'vm' ? state.detail : state.page === 'network' ? 'Network' : 'VMs');
}

// ---- wiring ----

function init() {
  // A token in the fragment (the URL paddockd prints) signs in, then leaves the address bar.
  const frag = new URLSearchParams(location.hash.slice(1));
  if (frag.get('token')) {
    token.set(frag.get('token'));
    history.replaceState(null, '', location.pathname + '#/vms');
  }
  $('#signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token.set($('#signin-token').value.trim());
    $('#signin-token').value = '';
    if (location.hash !== '#/vms') history.replaceState(null, '', location.pathname + '#/vms');
    start();
  });
  $('#signout').addEventListener('click', () => showSignin('Signed out.'));
  $('#new-vm').addEventListener('click', () => toggleCreate($('#create').hidden));
  $('#create-cancel').addEventListener('click', () => toggleCreate(false));
  $('#create').addEventListener('submit', create);
  for (const r of document.querySelectorAll('input[name=boot]')) r.addEventListener('change', showBoot);
  $('#console-log-toggle').addEventListener('click', toggleLog);
  $('#screen-toggle').addEventListener('click', () => showScreen(!screenView));
  $('#vm-autostart').addEventListener('change', setAutostart);
  $('#fw-form').addEventListener('submit', addForward);
  $('#screen-cad').addEventListener('click', () => { if (screenView) screenView.ctrlAltDel(); });
  $('#upload').addEventListener('submit', upload);
  $('#u-file').addEventListener('change', () => { const f = $('#u-file').files[0]; if (f && !$('#u-name').value) $('#u-name').value = f.name; });
  window.addEventListener('hashchange', () => { if (signedIn() && stream) route(); });
  if (signedIn()) start(); else showSignin();
}

init();
