// cortex dashboard: live updates over server-sent events. Plain JavaScript, no build step,
// served from the binary. The server renders every page; this only fetches the same page
// again when the log moved, and swaps its live part in place (no reload).
(function () {
  'use strict';
  var live = document.getElementById('live');

  // A form is not submitted twice by an impatient click.
  document.addEventListener('submit', function (e) {
    var button = e.target.querySelector('button[type=submit]');
    if (button) { setTimeout(function () { button.disabled = true; }, 0); }
  });

  if (!live || !window.EventSource || !window.fetch) { return; }

  // Someone typing in a form keeps what they typed: the swap waits for them.
  var dirty = false;
  document.addEventListener('input', function (e) {
    if (e.target.closest && e.target.closest('#live form')) { dirty = true; stale(); }
  });

  function stale() {
    if (document.getElementById('stale')) { return; }
    var bar = document.createElement('button');
    bar.id = 'stale';
    bar.type = 'button';
    bar.textContent = 'New events — show them';
    bar.addEventListener('click', function () { dirty = false; bar.remove(); refresh(); });
    document.body.appendChild(bar);
  }

  var timer = null;
  var busy = false;
  var again = false;

  function refresh() {
    if (dirty) { stale(); return; }
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (text) {
        if (text === null || dirty) { return; }
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var fresh = doc.getElementById('live');
        if (!fresh) { return; }
        fresh.getAttributeNames().forEach(function (name) {
          live.setAttribute(name, fresh.getAttribute(name));
        });
        live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes));
        watch();
        document.body.setAttribute('data-updates', String(Number(document.body.getAttribute('data-updates') || 0) + 1));
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; soon(); }
      });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 120);
  }

  // The child runs this run's steps wait with (`data-watch`: "ID:SEQ ..."): what the page
  // shows of them moves with their events, so their streams refresh it too. Followed anew
  // after each refresh: a new child is followed, one no longer named is let go.
  var watched = {};
  function watch() {
    if (live.dataset.live !== 'run') { return; }
    var want = {};
    (live.dataset.watch || '').split(' ').forEach(function (pair) {
      var at = pair.lastIndexOf(':');
      if (at > 0) { want[pair.slice(0, at)] = pair.slice(at + 1); }
    });
    Object.keys(watched).forEach(function (id) {
      if (!Object.prototype.hasOwnProperty.call(want, id)) { watched[id].close(); delete watched[id]; }
    });
    Object.keys(want).forEach(function (id) {
      if (watched[id]) { return; }
      var child = new EventSource('/api/v1/runs/' + encodeURIComponent(id) + '/events?after=' + encodeURIComponent(want[id]));
      child.addEventListener('event', soon);
      child.addEventListener('end', function () { child.close(); soon(); });
      watched[id] = child;
    });
  }

  if (live.dataset.live === 'run' && live.dataset.finished !== 'true') {
    watch();
    var url = '/api/v1/runs/' + encodeURIComponent(live.dataset.run) + '/events?after=' + encodeURIComponent(live.dataset.after);
    var events = new EventSource(url);
    events.addEventListener('event', soon);
    events.addEventListener('driver', function (e) {
      var alive = String(JSON.parse(e.data).alive);
      if (alive !== live.dataset.alive) { soon(); }
    });
    events.addEventListener('end', function () { events.close(); soon(); });
  }

  if (live.dataset.live === 'runs' && live.dataset.paged !== 'true') {
    var changes = new EventSource('/api/v1/runs/changes');
    changes.addEventListener('runs', function (e) {
      if (JSON.parse(e.data).signature !== live.dataset.signature) { soon(); }
    });
  }
})();
