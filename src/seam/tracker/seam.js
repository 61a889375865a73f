// seam.js: the Seam browser tracker. No dependencies; built into seam.min.js by build.mjs.
// Loaded as <script async src="https://HOST/seam.js" data-key="wk_..."></script>.
// Options (data- attributes on that tag):
//   data-key            the workspace write key (required)
//   data-auto-page      "false" disables automatic page views (initial load and SPA navigation)
//   data-cookieless     store nothing in the browser; the server derives a fingerprint id
//   data-cross-domain   "a.com,b.com": carry the anonymous id on links to those domains
(() => {
  'use strict';

  const VERSION = '0.1.0';
  const w = window;
  const d = document;
  const nav = navigator;

  const VID = 'seam_vid'; // anonymous id cookie + localStorage key
  const SID = 'seam_sid'; // localStorage key: {id, t: last activity}
  const XID = 'seam_external_contact_id'; // set by the customer's app at login
  const QUEUE_KEY = 'seam_q:'; // prefix: one unsent queue per page instance
  const OK_KEY = 'seam_ok'; // localStorage key: when the endpoint last acknowledged a send
  const XD_PARAM = '_seam';
  const XD_MAX_AGE_S = 120;
  const YEAR_S = 31536000;
  const SESSION_IDLE_MS = 30 * 60 * 1000;
  const MAX_DURATION_MS = 3600000;
  const BATCH = 10;
  const FLUSH_MS = 1000;
  const MAX_QUEUE = 500;
  const MAX_BACKOFF_MS = 60000;
  const MAX_TRIES = 10; // failed sends of a message before it is given up (~10 min of backoff)
  const MAX_MESSAGE = 32 * 1024; // the server's limit per message (SPEC §3), in UTF-8 bytes
  const MAX_BODY = 60000; // bytes: under the browsers' 64 KB cap on keepalive/beacon bodies
  const HEALTHY_MS = 10 * 60 * 1000; // an acknowledged send vouches for the endpoint this long

  // Loaded twice (two snippets)? The first copy wins.
  if (w.seam && w.seam.loaded) return;

  // Our own <script> tag: its src gives the endpoint origin, its data- attributes the options.
  // currentScript is null only in odd embeddings; fall back to a selector.
  const script = d.currentScript || d.querySelector('script[data-key][src*="seam"]');
  if (!script) return;
  const opt = script.dataset;
  const writeKey = opt.key;
  const endpoint = new URL(script.src, location.href).origin + '/v1/collect';
  const cookieless = opt.cookieless !== undefined && opt.cookieless !== 'false';
  const autoPage = opt.autoPage !== 'false';
  const xdDomains = (opt.crossDomain || '')
    .split(',')
    .map((s) => s.trim().toLowerCase().replace(/^\./, ''))
    .filter(Boolean);
  if (!writeKey) console.warn('seam: missing data-key on the script tag');

  // ---- small helpers ------------------------------------------------------------------

  // Storage can throw (cookies disabled, sandboxed iframes, quota): never break the host page.
  const attempt = (fn, fallback) => {
    try {
      return fn();
    } catch (e) {
      return fallback;
    }
  };
  const now = () => Date.now();
  const iso = () => new Date().toISOString();
  const clamp = (n, lo, hi) => Math.min(hi, Math.max(lo, Math.round(n) || 0));
  // 1-255 safe characters and not a placeholder an app may have stored by mistake (SPEC §3).
  const validId = (id) =>
    typeof id === 'string' &&
    /^(?!(anonymous|null|undefined|none|nil|0|-1|guest|nan|true|false)$)[\w.:-]{1,255}$/i.test(id);
  const bytes = (s) => new Blob([s]).size; // UTF-8 size, what servers and browsers limit
  const pathKey = () => location.pathname + location.search;
  const currentUrl = () => location.href.split('#')[0];

  // Random v4 uuid. crypto.randomUUID needs a secure context; getRandomValues does not.
  function uuid() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const hex = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join('');
    return hex.replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
  }

  // In cookieless mode every write is a no-op and every read misses.
  const lsGet = (k) => (cookieless ? null : attempt(() => localStorage.getItem(k), null));
  const lsSet = (k, v) => cookieless || attempt(() => localStorage.setItem(k, v));
  const lsDel = (k) => cookieless || attempt(() => localStorage.removeItem(k));

  function getCookie(name) {
    const m = d.cookie.match(new RegExp('(?:^|;\\s*)' + name + '=([^;]*)'));
    return m && m[1] ? attempt(() => decodeURIComponent(m[1]), m[1]) : null;
  }

  function setCookie(name, value, maxAge, domain) {
    if (cookieless && value) return;
    d.cookie =
      name + '=' + encodeURIComponent(value) + '; path=/; max-age=' + maxAge + '; SameSite=Lax' +
      (domain ? '; domain=' + domain : '') +
      (location.protocol === 'https:' ? '; Secure' : '');
  }

  // The app may have set the cookie on a parent domain; expire it on every candidate.
  function clearCookie(name) {
    setCookie(name, '', 0);
    const parts = location.hostname.split('.');
    while (parts.length > 1) {
      setCookie(name, '', 0, '.' + parts.join('.'));
      parts.shift();
    }
  }

  // ---- identity: anonymous id and session -------------------------------------------

  let anonId = null; // stays null in cookieless mode: the server derives a fingerprint
  let memSession = null; // the session when storage is unavailable (or cookieless)

  function saveAnonId(id) {
    anonId = id;
    setCookie(VID, id, YEAR_S); // rewritten on every load, so the year is rolling
    lsSet(VID, id);
  }

  // Cookie first; localStorage restores it after cookie loss (ITP, "clear cookies").
  function loadAnonId() {
    if (cookieless) return;
    const stored = [getCookie(VID), lsGet(VID)].find(validId);
    saveAnonId(stored || uuid());
  }

  // Sessions live in localStorage so all tabs share one; a gap over 30 min starts a new one.
  // touch=true records activity (events), false just reads (the sessionId getter).
  function session(touch) {
    const t = now();
    let s = attempt(() => JSON.parse(lsGet(SID)), null) || memSession;
    if (!s || !s.id || t - s.t > SESSION_IDLE_MS) s = { id: uuid(), t };
    if (touch) s.t = t;
    memSession = s;
    lsSet(SID, JSON.stringify(s));
    return s.id;
  }

  // The query string minus our pair, every other parameter byte-for-byte as it was
  // (URLSearchParams would re-encode them).
  const withoutXdParam = (search) =>
    search
      .slice(1)
      .split('&')
      .filter((pair) => pair && pair.split('=')[0] !== XD_PARAM)
      .join('&');

  // A link from a.com to b.com carries ?_seam=<anonymous id>.<unix seconds>. Adopt a fresh
  // one (so both domains share one visitor), and always remove it from the address bar so it
  // is neither bookmarked nor shared. Runs before the first page view and before history is
  // patched, so the cleanup itself is not a navigation.
  function adoptCrossDomainId() {
    const value = new URLSearchParams(location.search).get(XD_PARAM);
    if (value === null) return;
    const dot = value.lastIndexOf('.');
    const id = value.slice(0, dot);
    const age = now() / 1000 - Number(value.slice(dot + 1));
    if (!cookieless && dot > 0 && validId(id) && age >= -10 && age <= XD_MAX_AGE_S) saveAnonId(id);
    const search = withoutXdParam(location.search);
    const clean = location.pathname + (search ? '?' + search : '') + location.hash;
    attempt(() => history.replaceState(history.state, '', clean));
  }

  function decorateLink(event) {
    const a = event.target.closest && event.target.closest('a[href]');
    if (!a || !anonId || !xdDomains.length) return;
    const url = attempt(() => new URL(a.href), null);
    if (!url || !/^https?:$/.test(url.protocol) || url.host === location.host) return;
    const host = url.hostname.toLowerCase();
    if (!xdDomains.some((dom) => host === dom || host.endsWith('.' + dom))) return;
    // Replaces a stale pair if the link was decorated by an earlier click.
    const search = withoutXdParam(url.search);
    url.search = (search ? search + '&' : '') + XD_PARAM + '=' + anonId + '.' + Math.floor(now() / 1000);
    a.href = url.href;
  }

  // ---- messages -------------------------------------------------------------------------

  let lastUrl = null; // url of the latest page view: the referrer of an SPA navigation
  let referrer = d.referrer;
  let lastKey = null; // path+search of the latest page view

  function pageInfo() {
    return {
      url: currentUrl(),
      path: location.pathname,
      referrer,
      title: d.title,
      search: location.search,
    };
  }

  function campaign() {
    const params = new URLSearchParams(location.search);
    const c = {};
    for (const key of ['name', 'source', 'medium', 'term', 'content']) {
      const value = params.get('utm_' + (key === 'name' ? 'campaign' : key));
      if (value) c[key] = value;
    }
    return c;
  }

  // Segment-shaped message; messageId is made once here so retries dedupe on the server.
  function message(type, fields, sessionId) {
    const context = {
      page: pageInfo(),
      userAgent: nav.userAgent,
      locale: nav.language,
      library: { name: 'seam.js', version: VERSION },
      session_id: sessionId || session(true),
    };
    const utm = campaign();
    if (Object.keys(utm).length) context.campaign = utm;
    const externalId = getCookie(XID);
    if (externalId) context.external_contact_id = externalId;
    const msg = { type, messageId: uuid(), timestamp: iso() };
    if (anonId) msg.anonymousId = anonId;
    msg.context = context;
    return Object.assign(msg, fields);
  }

  // ---- page views and page_leave -------------------------------------------------------

  // The open page view: its id, session, visible time so far and deepest scroll.
  let view = null;

  function scrollDepth() {
    const root = d.documentElement;
    const height = Math.max(root.scrollHeight, d.body ? d.body.scrollHeight : 0);
    return height > 0 ? clamp(((w.scrollY + w.innerHeight) / height) * 100, 0, 100) : 0;
  }

  function noteScroll() {
    if (view) view.scroll = Math.max(view.scroll, scrollDepth());
  }

  // Time only counts while the page is visible (a background tab is not being read).
  function pauseClock() {
    if (view && view.since) {
      view.visibleMs += now() - view.since;
      view.since = 0;
    }
  }

  // Report the open page view's totals so far: at visibilitychange->hidden, pagehide, and
  // the next page view (SPA). Shown again, the same view goes on counting, and the next hide
  // sends a new page_leave with the running totals (the server keeps the largest).
  function leave() {
    sendHeld(); // a view's page message goes before its page_leave
    if (!view || view.left) return;
    pauseClock();
    noteScroll();
    view.left = true;
    const properties = {
      page_message_id: view.id,
      duration_ms: clamp(view.visibleMs, 0, MAX_DURATION_MS),
      scroll_depth: view.scroll,
    };
    const msg = message('page_leave', { properties }, view.sessionId);
    // The page being left, by whoever viewed it: the URL may have changed (SPA) and reset()
    // may already have made a new anonymous id for the next person.
    msg.context.page = view.page;
    if (view.anonymousId) msg.anonymousId = view.anonymousId;
    else delete msg.anonymousId;
    enqueue(msg);
  }

  // An SPA page view is opened at navigation time (URL, referrer, timestamp), but its message
  // waits for the title, which routers often set after pushState: it is sent 100 ms later, or
  // sooner if the view is left (next navigation, hide), with document.title as it is then.
  let held = null;

  function sendHeld() {
    if (!held) return;
    held.context.page.title = held.properties.title = d.title;
    enqueue(held);
    held = null;
  }

  function page(name, props, hold) {
    if (name && typeof name === 'object') [name, props] = [undefined, name];
    leave();
    const url = currentUrl();
    if (lastUrl && lastUrl !== url) referrer = lastUrl;
    lastUrl = url;
    lastKey = pathKey();
    const sessionId = session(true);
    const msg = message('page', { name, properties: Object.assign(pageInfo(), props) }, sessionId);
    view = {
      id: msg.messageId,
      sessionId,
      anonymousId: msg.anonymousId,
      page: msg.context.page,
      visibleMs: 0,
      since: d.visibilityState === 'visible' ? now() : 0,
      // Measured on scroll and at leave: at load the DOM may still be growing.
      scroll: 0,
      left: false,
    };
    if (!hold) return enqueue(msg);
    held = msg;
    setTimeout(() => held === msg && sendHeld(), 100);
  }

  // SPA routers call pushState/replaceState; the back button fires popstate.
  function patchHistory() {
    for (const fn of ['pushState', 'replaceState']) {
      const original = history[fn];
      history[fn] = function () {
        const result = original.apply(this, arguments);
        onNavigate();
        return result;
      };
    }
    w.addEventListener('popstate', onNavigate);
  }

  // Only a new path or query is a new page (hash changes and state-only replaces are not).
  // Runs inside the app's pushState: never throw there.
  function onNavigate() {
    if (pathKey() !== lastKey) attempt(() => page(undefined, undefined, true));
  }

  // ---- the other calls -----------------------------------------------------------------

  function track(event, properties) {
    enqueue(message('track', { event: String(event), properties: properties || {} }));
  }

  // seam('identify', externalId, traits, {user_hash}) or seam('identify', traits).
  function identify(userId, traits, options) {
    if (userId && typeof userId === 'object') [userId, traits, options] = [null, userId, traits];
    const msg = message('identify', { traits: traits || {} });
    if (userId != null && userId !== '') msg.userId = String(userId);
    if (options && options.user_hash) msg.context.user_hash = options.user_hash;
    enqueue(msg);
  }

  function group(groupId, traits) {
    enqueue(message('group', { groupId: String(groupId), traits: traits || {} }));
  }

  // Logout: forget who this was. The open page view keeps its old session for its page_leave.
  function reset() {
    clearCookie(XID);
    if (!cookieless) saveAnonId(uuid());
    memSession = null;
    lsDel(SID);
    session(false);
  }

  // ---- forms ---------------------------------------------------------------------------

  const isSecret = (el) => el.type === 'password' || /pass|pwd|secret/i.test(el.name || '');
  const SKIP_TYPES = /^(submit|button|reset|image|file)$/;

  function emailField(form) {
    for (const el of form.elements) {
      const looksEmail = el.type === 'email' || /email/i.test((el.name || '') + ' ' + (el.id || ''));
      if (el.tagName === 'INPUT' && looksEmail && !isSecret(el) && el.value.includes('@')) return el;
    }
    return null;
  }

  // Only fields that opt in with data-seam-capture, keyed by name; never secrets.
  function capturedFields(form) {
    const traits = {};
    for (const el of form.elements) {
      if (!el.name || !el.hasAttribute('data-seam-capture') || isSecret(el)) continue;
      if (SKIP_TYPES.test(el.type)) continue;
      if (el.type === 'checkbox') traits[el.name] = el.checked;
      else if (el.type !== 'radio' || el.checked) traits[el.name] = String(el.value).trim();
    }
    return traits;
  }

  // Capture phase on document: runs even if the app stops propagation. The submit usually
  // navigates away, so the message leaves by beacon right now rather than on a timer.
  function onSubmit(event) {
    const form = event.target;
    if (!form || form.tagName !== 'FORM' || form.hasAttribute('data-seam-ignore')) return;
    const field = emailField(form);
    if (!field) return;
    const traits = capturedFields(form);
    traits.email = field.value.trim().toLowerCase();
    // getAttribute: form.id / form.action are shadowed by inputs named "id" / "action".
    const properties = {
      form_id: form.getAttribute('id'),
      form_name: form.getAttribute('name'),
      form_action: attempt(() => new URL(form.getAttribute('action') || '', location.href).href, null),
    };
    enqueue(message('form', { traits, properties }));
    beaconFlush();
  }

  // ---- delivery ------------------------------------------------------------------------
  // Messages wait in `queue` until the server acknowledges them. The first `inFlight` of
  // them belong to the one fetch under way. The queue is mirrored in localStorage under a
  // per-page key, so a navigation or crash loses nothing: the next page adopts leftovers
  // (duplicates are harmless, the server dedupes on messageId).

  let queue = [];
  let inFlight = 0;
  let failures = 0;
  // The endpoint is known to work: a send was acknowledged (on this page, or on another page
  // of the site within HEALTHY_MS) and none has failed since.
  let healthy = now() - Number(lsGet(OK_KEY) || 0) < HEALTHY_MS;
  let timer = 0;
  const queueKey = QUEUE_KEY + uuid().slice(0, 8);

  // Each message counts its failed sends in `tries`, persisted with it, never sent.
  const body = (batch) =>
    JSON.stringify({ writeKey, batch: batch.map(({ tries, ...m }) => m), sentAt: iso() });
  const fits = (m) => m && bytes(JSON.stringify(m)) <= MAX_MESSAGE;

  // The first messages of `list` that make one request: at most BATCH, under MAX_BODY bytes
  // (at least one, and one always fits: messages are under 32 KB).
  function take(list) {
    let n = 1;
    while (n < list.length && n < BATCH && bytes(body(list.slice(0, n + 1))) < MAX_BODY) n++;
    return list.slice(0, n);
  }

  function persist() {
    if (queue.length) lsSet(queueKey, JSON.stringify(queue));
    else lsDel(queueKey);
  }

  function adoptLeftovers() {
    if (cookieless) return;
    attempt(() => {
      const keys = [];
      for (let i = 0; i < localStorage.length; i++) keys.push(localStorage.key(i));
      for (const key of keys) {
        if (!key || !key.startsWith(QUEUE_KEY)) continue;
        const saved = attempt(() => JSON.parse(localStorage.getItem(key)), null);
        localStorage.removeItem(key);
        if (Array.isArray(saved)) queue.push(...saved.filter(fits));
      }
    });
    queue = queue.slice(-MAX_QUEUE);
    persist();
  }

  function enqueue(msg) {
    // The server would refuse it, and with it the whole batch: never send it.
    if (!fits(msg)) return console.warn('seam: dropped a message over 32 KB:', msg.event || msg.type);
    queue.push(msg);
    // Endpoint down for long: keep the newest, drop the oldest not already in flight.
    if (queue.length > MAX_QUEUE) queue.splice(inFlight, 1);
    persist();
    if (queue.length - inFlight >= BATCH && !failures) {
      clearTimeout(timer);
      timer = 0;
      flush();
    } else schedule(FLUSH_MS);
  }

  function schedule(delay) {
    if (timer || inFlight || !queue.length) return;
    timer = setTimeout(() => {
      timer = 0;
      flush();
    }, delay);
  }

  function flush() {
    if (inFlight || !queue.length) return;
    const batch = take(queue);
    inFlight = batch.length;
    // Counted before the answer, so a page left meanwhile leaves it counted. Offline, the
    // attempt says nothing about the messages: not counted.
    if (nav.onLine !== false) for (const m of batch) m.tries = (m.tries || 0) + 1;
    persist();
    // text/plain keeps this a "simple" request: no CORS preflight. keepalive: it may
    // outlive the page (the body is under the 64 KB cap).
    fetch(endpoint, {
      method: 'POST',
      body: body(batch),
      headers: { 'Content-Type': 'text/plain' },
      credentials: 'omit',
      keepalive: true,
    }).then(
      (res) => {
        // Retry what may succeed later (429, 5xx); other 4xx will fail again: drop them.
        const retry = res.status === 429 || res.status >= 500;
        const after = Number(attempt(() => res.headers.get('Retry-After'), 0)) * 1000;
        // Chrome counts a keepalive request against its 64 KB budget until the response has
        // been read: the next request waits for that, or it would be refused.
        const done = () => settle(batch, !retry, after);
        res.text().then(done, done);
      },
      () => settle(batch, false, 0),
    );
  }

  function settle(batch, done, retryAfterMs) {
    inFlight = 0;
    healthy = done;
    if (done) {
      lsSet(OK_KEY, String(now()));
      failures = 0;
      queue = queue.filter((m) => !batch.includes(m));
      persist();
      schedule(0);
      return;
    }
    lsDel(OK_KEY);
    // A batch that keeps failing (a message the server chokes on, a 413 without CORS headers,
    // which reads as a network error) must not block what comes after it forever.
    queue = queue.filter((m) => !(m.tries >= MAX_TRIES));
    persist();
    // Exponential backoff with jitter: 1 s, 2 s, 4 s ... capped at a minute.
    failures++;
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1)) * (0.75 + Math.random() / 2);
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = 0;
      flush();
    }, Math.max(backoff, retryAfterMs || 0));
  }

  // The page is going away (or may be killed while hidden): hand everything not already in
  // flight to the browser, which delivers beacons after the page is gone. A keepalive fetch
  // already under way also survives. A beacon's fate is unknown, so only messages never tried
  // before, sent while the endpoint is known to work (`healthy`), are forgotten once beaconed;
  // the rest stay queued and persisted (retried here, or by the next page) until a fetch is
  // acknowledged. So is what the browser refuses.
  function beaconFlush() {
    let rest = queue.slice(inFlight);
    const gone = [];
    while (rest.length && nav.sendBeacon) {
      const batch = take(rest);
      if (!attempt(() => nav.sendBeacon(endpoint, body(batch)), false)) break;
      rest = rest.slice(batch.length);
      if (healthy) gone.push(...batch.filter((m) => !m.tries));
    }
    queue = queue.filter((m) => !gone.includes(m));
    persist();
  }

  // ---- lifecycle -----------------------------------------------------------------------

  function onHide() {
    leave();
    beaconFlush();
  }

  function listen() {
    d.addEventListener('visibilitychange', () => {
      if (d.visibilityState === 'hidden') onHide();
      else if (view) {
        // Back in view: the same page view goes on; the next hide reports the new totals.
        view.left = false;
        view.since = view.since || now();
      }
    });
    w.addEventListener('pagehide', onHide);
    // Back from the back/forward cache: the old view was closed by pagehide, open a new one.
    w.addEventListener('pageshow', (e) => e.persisted && autoPage && page());
    w.addEventListener('scroll', noteScroll, { passive: true });
    d.addEventListener('submit', onSubmit, true);
    for (const type of ['click', 'auxclick', 'contextmenu']) d.addEventListener(type, decorateLink, true);
  }

  // ---- public API ----------------------------------------------------------------------

  const methods = {
    page: (name, props) => page(name, props),
    track,
    identify,
    group,
    reset,
    anonymousId: () => anonId,
    sessionId: () => session(false),
  };

  function seam(method, ...args) {
    const fn = methods[method];
    if (!fn) return console.warn('seam: unknown call', method);
    try {
      return fn(...args);
    } catch (err) {
      console.error('seam:', err); // a tracker bug must never break the host page
    }
  }
  seam.loaded = true;
  seam.version = VERSION;

  // ---- start -----------------------------------------------------------------------------

  const pending = (w.seam && w.seam.q) || [];
  loadAnonId();
  adoptCrossDomainId();
  adoptLeftovers();
  listen();
  w.seam = seam;
  if (autoPage) {
    patchHistory();
    // A page call queued before load is this load's page view (with its name and props),
    // not a second one.
    const i = pending.findIndex((args) => args[0] === 'page');
    seam(...(i < 0 ? ['page'] : pending.splice(i, 1)[0]));
  }
  // Calls made before we loaded, in order (after the page view they happened on).
  for (const args of pending) seam(...args);
  schedule(0);
  w.dispatchEvent(new Event('seam:ready'));
})();
