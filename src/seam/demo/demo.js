// Shared by every demo page: the little "what the tracker knows" panel at the bottom, and
// buttons that send an event when clicked (data-track="Event Name" data-props='{"k":"v"}').
// The demo pages call seam() the same way a customer's site would.
(function () {
  'use strict';

  function whenReady(fn) {
    if (window.seam && window.seam.loaded) fn();
    else window.addEventListener('seam:ready', fn, { once: true });
  }

  function cookie(name) {
    var m = document.cookie.match(new RegExp('(?:^|;\\s*)' + name + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : null;
  }

  function renderInspector() {
    var box = document.getElementById('seam-inspector');
    if (!box) return;
    var vid = seam('anonymousId');
    var state = [vid, seam('sessionId'), cookie('seam_external_contact_id')].join('|');
    if (box.getAttribute('data-state') === state) return; // unchanged: keep any text selection
    box.setAttribute('data-state', state);
    var events = location.origin + '/v1/events?anonymous_id=' + encodeURIComponent(vid || '');
    box.innerHTML =
      '<strong>What the tracker knows on this page</strong>' +
      '<dl>' +
      '<dt>anonymous id (seam_vid)</dt><dd><code>' + (vid || '(cookieless)') + '</code></dd>' +
      '<dt>session id</dt><dd><code>' + seam('sessionId') + '</code></dd>' +
      '<dt>seam_external_contact_id</dt><dd><code>' +
      (cookie('seam_external_contact_id') || '(not set: anonymous)') + '</code></dd>' +
      '</dl>' +
      '<p>This visitor\'s timeline (needs a secret key with <code>events:read</code>):</p>' +
      '<pre>curl -H "Authorization: Bearer sk_…" \\\n  "' + events + '"</pre>';
  }

  document.addEventListener('click', function (e) {
    var el = e.target.closest && e.target.closest('[data-track]');
    if (!el) return;
    var props = el.getAttribute('data-props');
    seam('track', el.getAttribute('data-track'), props ? JSON.parse(props) : {});
    var note = document.getElementById('tracked');
    if (note) note.textContent = 'Sent track "' + el.getAttribute('data-track') + '" — check the timeline below.';
  });

  whenReady(renderInspector);
  // SPA pages and identify/reset change what we show: refresh now and then.
  whenReady(function () { setInterval(renderInspector, 1000); });
  window.seamDemo = { whenReady: whenReady, cookie: cookie };
})();
