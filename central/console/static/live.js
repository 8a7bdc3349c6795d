// The halls' live summary, pushed by the server (Server-Sent Events): the table's cells change in place.
(function () {
  const badge = document.getElementById("push");
  const tbody = document.querySelector("#halls tbody");
  function cell(tr, f, text, cls) {
    const td = tr.querySelector(`[data-f=${f}]`);
    if (td.textContent !== String(text)) td.textContent = text;
    if (cls !== undefined) td.className = cls;
  }
  let day = "";
  function row(h) {
    let tr = document.getElementById("h-" + h.hall);
    if (!tr) {
      tbody.querySelector("tr.empty")?.remove();
      tr = document.createElement("tr");
      tr.id = "h-" + h.hall;
      const a = document.createElement("a");
      a.href = "/halls/" + encodeURIComponent(h.hall);
      a.textContent = h.hall;
      const first = document.createElement("td");
      first.appendChild(a);
      tr.appendChild(first);
      for (const f of ["waiting", "windows_open", "alerts", "devices_offline", "issued_called", "last_committed_at"]) {
        const td = document.createElement("td");
        td.dataset.f = f;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    cell(tr, "waiting", h.waiting, "num");
    cell(tr, "windows_open", h.windows_open, "num");
    cell(tr, "alerts", h.alerts, h.alerts ? "num warn" : "num");
    cell(tr, "devices_offline", h.devices_offline, h.devices_offline ? "num crit" : "num");
    cell(tr, "issued_called", `${h.issued} / ${h.called}`, "num");
    const at = h.last_committed_at;  // a time today, a date and time before
    cell(tr, "last_committed_at", !at ? "–" : at.slice(0, 10) === day ? at.slice(11, 19) : `${at.slice(0, 10)} ${at.slice(11, 16)}`);
  }
  const source = new EventSource("/live/stream");
  source.addEventListener("live", (e) => {
    const live = JSON.parse(e.data);
    day = live.day;
    live.halls.forEach(row);
    for (const [k, v] of Object.entries(live.total)) {
      const b = document.querySelector(`[data-t=${k}]`);
      if (b) b.textContent = v;
    }
    document.body.dataset.push = "connected";
    badge.textContent = "实时 live";
    badge.className = "push on";
  });
  source.onerror = () => { badge.textContent = "重连中 reconnecting"; badge.className = "push"; document.body.dataset.push = "lost"; };
})();
