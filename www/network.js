// The network page: the topology as a small SVG diagram, link states, the nftables table, DHCP
// pool use, the lease table and warnings. Built from GET /api/v1/network, /leases and the VMs.
const NS = 'http://www.w3.org/2000/svg';
const $ = (s) => document.querySelector(s);

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

function node(g, x, y, w, title, sub, up) {
  g.append(svg('rect', { x, y, width: w, height: 44, rx: 6, class: 'box' }));
  g.append(svg('circle', { cx: x + 12, cy: y + 14, r: 5, class: up ? 'up' : 'down' }, null));
  g.append(svg('text', { x: x + 22, y: y + 18 }, title));
  g.append(svg('text', { x: x + 10, y: y + 35, class: 'muted' }, sub));
}

function topology(n, vms) {
  const taps = vms.slice(0, 6);
  const width = 720, height = 250 + Math.max(0, taps.length - 3) * 0;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `Host veth ${n.host_veth.name} (${n.gateway}) linked to namespace ${n.namespace.name}: bridge ${n.bridge.name} (${n.bridge_address}) with ${vms.length} VM TAPs` });
  const g = svg('g');
  root.append(g);
  g.append(svg('text', { x: 10, y: 18 }, 'host'));
  node(g, 10, 30, 190, `${n.host_veth.name}`, `gateway ${n.gateway}`, n.host_veth.present && n.host_veth.up);
  g.append(svg('text', { x: 10, y: 100 }, `nft inet paddock: ${n.nftables.present ? 'present' : 'MISSING'}`));
  g.append(svg('text', { x: 10, y: 118 }, `ip_forward=${n.ip_forward}`));
  g.append(svg('rect', { x: 240, y: 8, width: 470, height: height - 16, rx: 10, class: 'ns' }));
  g.append(svg('text', { x: 252, y: 28 }, `namespace ${n.namespace.name}${n.namespace.present ? '' : ' (missing)'}`));
  node(g, 260, 40, 180, n.namespace_veth.name, 'veth end', n.namespace_veth.present && n.namespace_veth.up);
  node(g, 490, 40, 200, n.bridge.name, `${n.bridge_address} · DHCP${n.dns && n.dns.enabled ? ' · DNS' : ''}`, n.bridge.present && n.bridge.up);
  g.append(svg('line', { x1: 200, y1: 52, x2: 260, y2: 62, class: 'wire' }));
  g.append(svg('line', { x1: 440, y1: 62, x2: 490, y2: 62, class: 'wire' }));
  taps.forEach((v, i) => {
    const x = 260 + (i % 3) * 145, y = 120 + Math.floor(i / 3) * 60;
    node(g, x, y, 135, v.tap, `${v.name} ${v.ip}`, v.state === 'running' || v.state === 'paused');
    g.append(svg('line', { x1: 590, y1: 84, x2: x + 67, y2: y, class: 'wire' }));
  });
  if (vms.length > taps.length) g.append(svg('text', { x: 260, y: height - 14 }, `… and ${vms.length - taps.length} more VMs`));
  if (vms.length === 0) g.append(svg('text', { x: 260, y: 140 }, 'no VMs yet'));
  return root;
}

function kv(target, pairs) {
  target.replaceChildren(...pairs.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    return [dt, dd];
  }));
}

function link(l) {
  if (!l.present) return 'missing';
  return `${l.up ? 'up' : 'DOWN'}${l.addresses && l.addresses.length ? ' · ' + l.addresses.join(', ') : ''}`;
}

function dns(d) {
  if (!d || !d.enabled) return 'off';
  const up = d.upstreams.length ? `forwards to ${d.upstreams.join(', ')}` : 'no upstream servers: other names fail';
  return `${d.address}:53 · *.${d.domain} · ${up} · ${d.cache_entries} cached`;
}

function ipv6(v) {
  if (!v) return 'off';
  return `${v.prefix} (${v.mode === 'auto' ? 'unique local, made here' : 'configured'}) · gateway ${v.gateway} · router ${v.router} · DNS ${v.bridge_address} · NAT66`;
}

export function renderNetwork(n, leases, vms) {
  $('#net-warnings').replaceChildren(...(n.warnings || []).map((w) => {
    const p = document.createElement('p'); p.className = 'warning'; p.setAttribute('role', 'note'); p.textContent = w; return p;
  }));
  $('#topology').replaceChildren(topology(n, vms));
  kv($('#net-links'), [['Subnet', n.subnet], [`${n.host_veth.name} (host)`, link(n.host_veth)],
    [`${n.namespace_veth.name} (namespace)`, link(n.namespace_veth)], [`${n.bridge.name} (bridge)`, link(n.bridge)],
    ['nftables', `${n.nftables.table}: ${n.nftables.present ? 'present' : 'missing'}`], ['ip_forward', String(n.ip_forward)],
    ['DNS', dns(n.dns)], ['IPv6', ipv6(n.ipv6)],
    ...(n.peers || []).map((x) => [`Peer ${x.domain}`, `${x.subnet} via ${x.gateway} · DNS ${x.dns}`]),
    ...(n.routes || []).map((r) => [`Route ${r.subnet}`, `via ${r.via}`])]);
  const p = n.dhcp_pool;
  const pct = p.size ? Math.round((100 * p.used) / p.size) : 0;
  const meter = document.createElement('div');
  meter.className = 'meter';
  meter.setAttribute('role', 'meter');
  meter.setAttribute('aria-valuemin', '0');
  meter.setAttribute('aria-valuemax', String(p.size));
  meter.setAttribute('aria-valuenow', String(p.used));
  meter.setAttribute('aria-label', 'DHCP pool use');
  const bar = document.createElement('span');
  bar.style.width = pct + '%';
  meter.append(bar);
  const text = document.createElement('p');
  text.textContent = `${p.used} of ${p.size} addresses in use (${pct} %) · ${p.start} – ${p.end} · lease ${p.lease_time_s} s`;
  $('#pool').replaceChildren(meter, text);
  $('#lease-rows').replaceChildren(...leases.map((l) => {
    const tr = document.createElement('tr');
    for (const c of [l.ip, l.mac, l.hostname, l.vm || '', l.state, l.expires_at ? new Date(l.expires_at).toLocaleString() : '']) {
      const td = document.createElement('td'); td.textContent = c; tr.append(td);
    }
    return tr;
  }));
}
