// cortex dashboard: live updates over server-sent events. Plain JavaScript, no build step,
// served from the binary. The server renders every page; this only fetches the same page
// again when the log moved, and swaps its live part in place (no reload).
(function () {
  'use strict';
  var live = document.getElementById('live');

  // A sign-in hands this browser its form key in the address's fragment (which no browser
  // sends to a server): it moves out of the address, and into this origin's storage (its own
  // port's: no other listener on the host reads it) once the server has said it is the key of
  // the sign-in this browser's cookie carries (`POST /login/key`) — any site can link to an
  // address of this origin with a fragment of its own, whose key must not replace the one
  // kept. No page holds the key, since a page can be read with the sign-in cookie alone,
  // which other listeners are sent too.
  var KEY = 'cortex-form-key';
  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  if (location.hash.indexOf('#cortex-key=') === 0) {
    var handed = null;
    try { handed = decodeURIComponent(location.hash.slice(12)); } catch (e) {}
    history.replaceState(null, '', location.pathname + location.search);
    if (handed && window.fetch) {
      fetch('/login/key', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'token=' + encodeURIComponent(handed)
      }).then(function (res) {
        if (res.status !== 204) { return; }
        try { localStorage.setItem(KEY, handed); } catch (e) {}
        sign(document);
        document.body.setAttribute('data-key', 'kept');
      }).catch(function () {});
    }
  }
  // A page that refused a form for its key has the key forgotten: the forms show their Token
  // field again (and the page links to signing in again).
  if (document.querySelector('[data-forget-key]')) {
    try { localStorage.removeItem(KEY); } catch (e) {}
  }
  // Each form's Token field is hidden while a key is kept; the key itself is put in at the
  // moment the form is sent (`submit`), so that a sign-in in another tab since is the one
  // sent.
  function sign(root) {
    if (!stored()) { return; }
    Array.prototype.forEach.call(root.querySelectorAll('label.form-key'), function (label) {
      if (label.querySelector('input[name=token]')) {
        label.hidden = true;
        label.querySelector('input[name=token]').required = false;
      }
    });
  }
  sign(document);

  // A form is not submitted twice by an impatient click.
  document.addEventListener('submit', function (e) {
    var key = stored();
    Array.prototype.forEach.call(e.target.querySelectorAll('label.form-key'), function (label) {
      var input = label.querySelector('input[name=token]');
      if (!input) { return; }
      if (key && label.hidden) {
        input.value = key;
      } else if (!key && label.hidden) {
        // The key was forgotten meanwhile (in another tab): the field is asked for.
        e.preventDefault();
        label.hidden = false;
        input.required = true;
        input.focus();
      }
    });
    if (e.defaultPrevented) { return; }
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
        sign(live);
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

  // Whether the page's streams are connected: its badge says "live" only then (the server
  // renders "not live": without this script, or with every stream turned away, nothing
  // arrives).
  var connected = {};
  function mark() {
    var names = Object.keys(connected);
    var up = names.length > 0 && names.every(function (k) { return connected[k]; });
    Array.prototype.forEach.call(document.querySelectorAll('.live-dot'), function (dot) {
      dot.textContent = up ? 'live' : 'not live';
      dot.classList.toggle('off', !up);
      dot.title = up ? 'live: updates arrive without reloading'
        : 'not live: the update stream is not connected (tried again every few seconds); reload for the newest';
    });
  }

  // A stream followed until it ends. An EventSource the server turned away (an answer other
  // than 200: 503 while too many streams are open) never tries again by itself: it is opened
  // anew after a delay (5 s, doubling to a minute), and the page refreshed then, since events
  // may have passed meanwhile.
  function follow(name, url, listen) {
    var source = null, wait = 5000, timer = null, done = false;
    function connect() {
      source = new EventSource(url());
      connected[name] = false;
      listen(source);
      source.addEventListener('open', function () { wait = 5000; connected[name] = true; mark(); });
      source.addEventListener('end', function () { stop(); soon(); });
      source.addEventListener('error', function () {
        if (done) { return; }
        connected[name] = false;
        mark();
        if (source.readyState === EventSource.CLOSED) {
          timer = setTimeout(function () { connect(); soon(); }, wait + Math.random() * 1000);
          wait = Math.min(wait * 2, 60000);
        }
      });
    }
    function stop() {
      done = true;
      clearTimeout(timer);
      if (source) { source.close(); }
      delete connected[name];
      mark();
    }
    connect();
    return { close: stop };
  }

  // The child runs this run's steps wait with (`data-watch`: "ID:SEQ ..."): what the page
  // shows of them moves with their events, so their streams refresh it too. Followed anew
  // after each refresh: a new child is followed, one no longer named is let go.
  var watched = {};
  function watch() {
    mark();
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
      var after = want[id];
      watched[id] = follow('child ' + id, function () {
        return '/api/v1/runs/' + encodeURIComponent(id) + '/events?after=' + encodeURIComponent(after);
      }, function (child) {
        child.addEventListener('event', function (e) { if (e.lastEventId) { after = e.lastEventId; } soon(); });
      });
    });
  }

  if (live.dataset.live === 'run' && live.dataset.finished !== 'true') {
    watch();
    follow('run', function () {
      return '/api/v1/runs/' + encodeURIComponent(live.dataset.run) + '/events?after=' + encodeURIComponent(live.dataset.after);
    }, function (events) {
      events.addEventListener('event', soon);
      events.addEventListener('driver', function (e) {
        var alive = String(JSON.parse(e.data).alive);
        if (alive !== live.dataset.alive) { soon(); }
      });
    });
  }

  if (live.dataset.live === 'runs' && live.dataset.paged !== 'true') {
    follow('runs', function () { return '/api/v1/runs/changes'; }, function (changes) {
      changes.addEventListener('runs', function (e) {
        if (JSON.parse(e.data).signature !== live.dataset.signature) { soon(); }
      });
    });
  }
})();
