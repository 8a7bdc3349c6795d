// hallkit managers' console: follows the hub's changes by push (Server-Sent Events on /api/events) and updates the
// page the server rendered. Text only (textContent), never markup from the wire.
(() => {
  "use strict";
  const main = document.querySelector("[data-live]");
  if (!main) return;
  let offset = Date.parse(main.dataset.serverNow || "") - Date.now() || 0;  // server clock minus ours, ms
  const $ = (sel, root = document) => root.querySelector(sel);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  };
  const bilingual = (zh, en) => { const f = document.createDocumentFragment(); f.append(zh + " ", el("span", "en", en)); return f; };
  const minutesSince = (since) => since ? Math.max(0, Math.round((Date.now() + offset - Date.parse(since)) / 60000)) : null;
  const setText = (node, text) => { if (node && node.textContent !== text) node.textContent = text; };
  const minutes = (node, value, zhPrefix, enPrefix) => {
    if (!node) return;
    node.replaceChildren();
    if (value === null || value === undefined) { node.textContent = zhPrefix === null ? "—" : ""; return; }
    if (zhPrefix) node.append(bilingual(`${zhPrefix} ${value} 分钟`, `${enPrefix} ${value} min`));
    else node.textContent = String(value);
  };

  function windowChanged(w) {
    const card = document.getElementById("w-" + w.id);
    if (!card) return;
    card.classList.remove("st-serving", "st-idle", "st-paused", "st-closed");
    card.classList.add("st-" + w.status);
    const label = $("[data-f=status_label]", card), [zh, ...en] = w.status_label.split(" ");
    if (label.textContent !== w.status_label) label.replaceChildren(bilingual(zh, en.join(" ")));
    setText($("[data-f=ticket]", card), w.ticket || "—");
    setText($("[data-f=staff]", card), w.staff_name || w.staff || "");
    const paused = $("[data-f=paused]", card);
    paused.dataset.since = w.status === "paused" && w.paused_since ? w.paused_since : "";
    tickPaused(paused);
  }
  function tickPaused(node) {
    minutes(node, node.dataset.since ? minutesSince(node.dataset.since) : null, "已暂停", "paused");
  }

  function queueChanged(q) {
    const row = document.getElementById("q-" + q.id);
    if (!row) return;
    row.className = q.waiting ? "busy" : "empty";
    setText($("[data-f=waiting]", row), String(q.waiting));
    const oldest = $("[data-f=oldest]", row);
    oldest.dataset.since = q.waiting && q.oldest_since ? q.oldest_since : "";
    minutes(oldest, oldest.dataset.since ? minutesSince(oldest.dataset.since) : null, null);
    minutes($("[data-f=estimated]", row), q.estimated_wait_min === null ? null : Math.round(q.estimated_wait_min), null);
    // 预约: checked in / booked today, for the queues that take bookings
    const booked = $("[data-f=booked]", row);
    if (booked) setText(booked, q.booked_today == null ? "—" : `${q.checked_in_today}/${q.booked_today}`);
  }

  function callItem(c) {
    const li = el("li");
    li.append(el("b", null, c.ticket), ` → ${c.window_name} `);
    if (c.recall) li.append(el("span", "recall", `重呼 recall ${c.recall}`), " ");
    li.append(el("time", null, (c.at || "").slice(11, 19)));
    return li;
  }
  function callsChanged(calls) {
    const list = document.getElementById("calls");
    if (!list) return;
    list.replaceChildren(...(calls.length ? calls.map(callItem) : [noneItem("暂无", "none yet")]));
  }
  function called(c) {
    const list = document.getElementById("calls");
    if (list) {
      const none = $(".none", list);
      if (none) none.remove();
      list.prepend(callItem(c));
      while (list.children.length > 20) list.lastElementChild.remove();
    }
    const card = document.getElementById("w-" + c.window);
    if (card) {
      setText($("[data-f=ticket]", card), c.ticket);
      card.classList.add("called");
      setTimeout(() => card.classList.remove("called"), 3000);
    }
  }

  function noneItem(zh, en) { const li = el("li", "none"); li.append(bilingual(zh, en)); return li; }
  function alertItem(a, forms) {
    const li = el("li", `alert sev-${a.severity} ${a.state}`);
    li.dataset.id = a.id;
    const head = el("div", "alert-head");
    head.append(el("strong", null, a.title), " ", el("span", "en", a.title_en));
    let meta = `${a.rule} · ${a.subject} · ${(a.raised_at || "").slice(11, 16)}`;
    if (a.state === "acknowledged") meta += ` · 已确认 acknowledged ${a.acknowledged_by || ""}${a.note ? ": " + a.note : ""}`;
    li.append(head, el("div", "alert-meta", meta));
    if (a.detail) li.append(el("div", "alert-detail", a.detail));
    if (forms && a.state === "firing") {
      const form = el("form", "ack");
      form.method = "post"; form.action = "/alerts/ack";
      const hidden = (name, value) => { const i = el("input"); i.type = "hidden"; i.name = name; i.value = value; return i; };
      const note = el("input"); note.name = "note"; note.maxLength = 500; note.placeholder = "备注 note";
      const button = el("button"); button.type = "submit"; button.append(bilingual("确认", "Acknowledge"));
      form.append(hidden("csrf", main.dataset.csrf || ""), hidden("alert", a.id), note, button);
      li.append(form);
    }
    return li;
  }
  function alertsChanged(alerts) {
    const list = document.getElementById("alerts");
    if (!list) return;
    const forms = main.dataset.alertsForms === "yes";
    // keep a note being typed: an alert whose form has focus is left as it is
    const typing = document.activeElement && document.activeElement.closest("#alerts li");
    list.replaceChildren(...(alerts.length ? alerts.map(a =>
      typing && typing.dataset.id === a.id ? typing : alertItem(a, forms)) : [noneItem("无告警", "none")]));
    setText(document.getElementById("sum-alerts"), String(alerts.filter(a => a.state === "firing").length));
  }

  function hubChanged(state, connected) {
    const banner = document.getElementById("hub-banner");
    if (!banner) return;
    banner.replaceChildren();
    if (!connected) banner.append(bilingual("控制台未连接", "console not connected"));
    else if (state !== "online") banner.append(bilingual(state === "offline" ? "中心离线" : "中心异常", `hub ${state}`));
    banner.classList.toggle("hidden", connected && state === "online");
  }
  let hubState = "unknown", linkUp = true;

  function summarise() {
    for (const s of ["serving", "idle", "paused", "closed"]) {
      setText(document.getElementById("sum-" + s), String(document.querySelectorAll(".win.st-" + s).length));
    }
    let waiting = 0;
    document.querySelectorAll("#queues [data-f=waiting]").forEach(n => { waiting += Number(n.textContent) || 0; });
    setText(document.getElementById("sum-waiting"), String(waiting));
  }

  function snapshot(s) {
    offset = Date.parse(s.at) - Date.now() || offset;
    s.windows.forEach(windowChanged);
    s.queues.forEach(queueChanged);
    callsChanged(s.calls);
    alertsChanged(s.alerts);
    hubState = s.hub; linkUp = s.connected;
    hubChanged(hubState, linkUp);
    summarise();
  }

  const on = (source, name, handle) => source.addEventListener(name, e => {
    try { handle(JSON.parse(e.data)); summarise(); } catch (err) { console.error(name, err); }
  });
  const source = new EventSource("/api/events");
  on(source, "snapshot", snapshot);
  on(source, "window", windowChanged);
  on(source, "queue", queueChanged);
  on(source, "call", called);
  on(source, "calls", d => callsChanged(d.calls));
  on(source, "alerts", d => alertsChanged(d.alerts));
  on(source, "hub", d => { hubState = d.state; hubChanged(hubState, linkUp); });
  on(source, "link", d => { linkUp = d.connected; hubChanged(hubState, linkUp); });
  source.onerror = () => {  // the browser reconnects by itself; a 401 (session over) sends it to the login page
    hubChanged(hubState, false);
    fetch("/api/live", { credentials: "same-origin" }).then(r => { if (r.status === 401) location.href = "/login"; }, () => {});
  };
  document.body.dataset.push = "open";
  source.onopen = () => { document.body.dataset.push = "connected"; };

  setInterval(() => {  // minutes grow without a message: count them here
    document.querySelectorAll("[data-f=paused]").forEach(tickPaused);
    document.querySelectorAll("#queues [data-f=oldest]").forEach(n =>
      minutes(n, n.dataset.since ? minutesSince(n.dataset.since) : null, null));
  }, 20000);
})();
