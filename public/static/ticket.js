// The ticket's page, kept current by the site's push (Server-Sent Events, one `ticket` event per change).
// The HTML is whole without this script; it only changes what the push says changed, and alerts the citizen.
(function () {
  "use strict";
  var body = document.body;
  var token = body.dataset.token;
  var page = JSON.parse(document.getElementById("page-data").textContent);
  var audio = null;

  function field(name, value) {
    document.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) { el.textContent = value; });
  }
  function show(id, on) { var el = document.getElementById(id); if (el) el.hidden = !on; }
  function clock(iso) { return iso ? iso.slice(11, 16) : ""; }
  function minutes(s) { return s === null || s === undefined ? "–" : (s ? Math.max(1, Math.round(s / 60)) : 0); }

  function beep(times) {
    // only after the citizen touched the page: browsers keep sound for pages a person has used
    if (!audio) return;
    var t = audio.currentTime;
    for (var i = 0; i < times; i++) {
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.3, t + i * 0.5);
      gain.gain.setValueAtTime(0, t + i * 0.5 + 0.3);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(t + i * 0.5); osc.stop(t + i * 0.5 + 0.35);
    }
  }
  function buzz(pattern) { if (navigator.vibrate) { try { navigator.vibrate(pattern); } catch (e) { /* not allowed */ } } }

  function render(next) {
    var before = page;
    page = next;
    body.dataset.status = next.status;
    field("status_text", next.status_text);
    field("status_text_en", next.status_text_en);
    field("ahead", next.ahead === null ? "–" : next.ahead);
    field("wait_min", minutes(next.est_wait_s));
    field("window", next.window || "");
    field("window_en", next.window || "");
    field("window_location", next.window_location || "");
    field("window_location_en", next.window_location_en || "");
    field("requeue_until", clock(next.requeue_until));
    field("requeue_until_en", clock(next.requeue_until));
    ["waiting", "called", "no_show", "done"].forEach(function (s) { show(s, next.status === s); });
    show("near", next.near);
    show("offline", !next.hall_online);
    show("rate", next.rating.open && next.rating.score === null);
    if (next.rating.score !== null) { field("score", "★★★★★".slice(0, next.rating.score)); show("rated", true); }
    if (next.near && !before.near) {
      body.dataset.near = "1";
      buzz([200, 100, 200]); beep(1);
    }
    // every pushed page of a called ticket is a call or a recall (the site pushes a page only when it changed,
    // or when the window calls the number again): alert each time
    if (next.status === "called") {
      body.dataset.called = next.window;
      buzz([400, 200, 400, 200, 400]); beep(3);
      try { window.scrollTo(0, 0); } catch (e) { /* no scrolling */ }
    }
  }

  function connect() {
    if (!window.EventSource) return;
    var source = new EventSource("/api/t/" + encodeURIComponent(token) + "/events");
    var text = document.querySelector("[data-push-text]");
    source.onopen = function () { body.dataset.push = "connected"; text.textContent = "实时更新中 Live"; };
    source.onerror = function () {
      body.dataset.push = "offline";
      text.textContent = "连接中断，正在重连… Reconnecting…";
      // a refused stream (too many tries from this address, a restart of the site) is not retried by the
      // browser itself: try again a little later
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 15000); }
    };
    source.addEventListener("ticket", function (e) { render(JSON.parse(e.data)); });
  }

  // sound is allowed once the citizen has touched the page: the button says so, any touch will do
  function allowSound() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (Ctx && !audio) { try { audio = new Ctx(); } catch (e) { audio = null; } }
  }
  document.addEventListener("touchstart", allowSound, {once: true, passive: true});
  document.addEventListener("click", allowSound, {once: true});
  var button = document.getElementById("alerts");
  if (button) {
    button.addEventListener("click", function () {
      allowSound();
      beep(1); buzz(100);
      button.textContent = "提醒已开启 Alerts on";
      button.disabled = true;
    });
  }

  var form = document.getElementById("rate-form");
  if (form && window.fetch) {
    form.addEventListener("submit", function (e) {
      var score = e.submitter ? Number(e.submitter.value) : 0;
      if (!score) return; // the plain form post
      e.preventDefault();
      fetch("/api/t/" + encodeURIComponent(token) + "/rating", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({score: score})
      }).then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
        .then(function (res) {
          if (res[0] === 200) {
            show("rate", false);
            field("score", "★★★★★".slice(0, score)); show("rated", true);
          } else {
            var err = document.getElementById("rate-error");
            err.textContent = res[1].detail || ("HTTP " + res[0]); err.hidden = false;
          }
        });
    });
  }
  connect();
}());
