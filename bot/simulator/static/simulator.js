// Kasane simulator: posts actions to /simulator/api, polls the chat log, shows what LINE delivered.
// No framework and no inline handlers: everything is wired here (the page's CSP allows only this file).
(() => {
  "use strict";

  const root = document.getElementById("sim");
  if (!root) return;
  const api = root.dataset.api;
  const chat = root.dataset.chat;
  const person = root.dataset.person;
  let version = Number(root.dataset.version) || 0;
  let lastQuick = null;
  let polling = false;

  const log = document.getElementById("log");
  const quick = document.getElementById("quick");
  const status = document.getElementById("status");
  const composer = document.getElementById("composer");
  const text = document.getElementById("text");
  const quoteBox = document.getElementById("quote");
  const quoteId = document.getElementById("quote-id");
  const quoteText = document.getElementById("quote-text");
  const picker = document.getElementById("picker");
  const pickerInput = document.getElementById("picker-input");
  const pickerLabel = document.getElementById("picker-label");
  const panel = document.getElementById("panel");
  let pickerTarget = null;

  // --- helpers ---------------------------------------------------------------------------
  function tell(message, isError) {
    status.textContent = message || "";
    status.classList.toggle("error", Boolean(isError));
  }

  // Colours from the bot's Flex JSON arrive as data attributes (checked as #rrggbb on the server):
  // setting them through the CSSOM keeps the page free of inline style attributes.
  function paint(scope) {
    const nodes = [scope, ...scope.querySelectorAll("[data-color], [data-bg], [data-border]")];
    for (const el of nodes) {
      if (!el.dataset) continue;
      if (el.dataset.color) el.style.color = el.dataset.color;
      if (el.dataset.bg) el.style.backgroundColor = el.dataset.bg;
      if (el.dataset.border) el.style.borderTopColor = el.dataset.border;
    }
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  }

  async function call(path, payload) {
    const response = await fetch(api + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      credentials: "same-origin",
    });
    let data = {};
    try {
      data = await response.json();
    } catch (_error) {
      data = {};
    }
    if (!response.ok) throw new Error(data.error || `エラーが起きました（${response.status}）`);
    return data;
  }

  function afterAction(data) {
    if (data.go) {
      window.location.assign(data.go);
      return;
    }
    if (data.open) window.open(data.open, "_blank", "noopener,noreferrer");
    const now = document.getElementById("now");
    if (data.now && now) now.textContent = data.now;
    soon();
  }

  // --- the chat log ----------------------------------------------------------------------
  async function poll() {
    if (!chat || polling) return;
    polling = true;
    try {
      const query = new URLSearchParams({ chat, as: person, since: String(version) });
      const response = await fetch(`${api}/log?${query}`, { cache: "no-store" });
      if (!response.ok) return;
      const data = await response.json();
      const stick = nearBottom();
      for (const item of data.entries) {
        const holder = document.createElement("template");
        holder.innerHTML = item.html; // rendered and escaped by the server's templates
        const node = holder.content.firstElementChild;
        if (!node) continue;
        paint(node);
        const old = document.getElementById(`m-${item.seq}`);
        if (old) old.replaceWith(node);
        else log.append(node);
      }
      version = data.version;
      if (data.quick !== lastQuick) {
        lastQuick = data.quick;
        quick.innerHTML = data.quick;
        paint(quick);
      }
      const now = document.getElementById("now");
      if (now && data.now) now.textContent = data.now;
      markNew(data.last || {});
      if (stick && data.entries.length) log.scrollTop = log.scrollHeight;
    } catch (_error) {
      // The server may be restarting: the next poll tries again.
    } finally {
      polling = false;
    }
  }

  // Other chats (another group, a 1:1 push) show a "新着" badge when something arrived there.
  function markNew(last) {
    for (const link of document.querySelectorAll("a[data-chat-id]")) {
      const id = link.dataset.chatId;
      const badge = link.nextElementSibling;
      if (id === chat || !badge) continue;
      badge.hidden = !((last[id] || 0) > Number(link.dataset.last));
    }
  }

  // Answers come through the bot's outbox a moment later: look a few times, then every second.
  function soon() {
    for (const delay of [100, 250, 500, 1000, 2000]) window.setTimeout(poll, delay);
  }

  // --- forms -------------------------------------------------------------------------------
  function payloadOf(form) {
    const arrays = (form.dataset.arrays || "").split(" ").filter(Boolean);
    const ints = (form.dataset.ints || "").split(" ").filter(Boolean);
    const data = {};
    for (const name of arrays) data[name] = [];
    for (const [name, value] of new FormData(form).entries()) {
      if (arrays.includes(name)) data[name].push(value);
      else data[name] = ints.includes(name) ? Number(value) : value;
    }
    return data;
  }

  function clearQuote() {
    if (!quoteBox) return;
    quoteId.value = "";
    quoteText.textContent = "";
    quoteBox.hidden = true;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.classList || !form.classList.contains("js-api")) return;
    event.preventDefault();
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    try {
      const data = await call(form.getAttribute("action").slice(api.length), payloadOf(form));
      tell("");
      if (form === composer) {
        text.value = "";
        clearQuote();
        text.focus();
      }
      afterAction(data);
    } catch (error) {
      tell(error.message, true);
    } finally {
      if (button) button.disabled = false;
    }
  });

  if (text && composer) {
    text.addEventListener("keydown", (event) => {
      // Enter confirms a Japanese IME conversion first: only send when no composition is open.
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
      event.preventDefault();
      composer.requestSubmit();
    });
  }

  // --- buttons -----------------------------------------------------------------------------
  async function press(button, params) {
    button.disabled = true;
    try {
      const payload = {
        chat,
        person,
        entry: Number(button.dataset.entry),
        button: Number(button.dataset.n),
      };
      if (params) payload.params = params;
      afterAction(await call("/press", payload));
      tell("");
    } catch (error) {
      tell(error.message, true);
    } finally {
      button.disabled = false;
    }
  }

  function openPicker(button) {
    const mode = button.dataset.mode || "datetime";
    pickerTarget = button;
    pickerInput.type = { date: "date", time: "time", datetime: "datetime-local" }[mode] || "datetime-local";
    pickerLabel.textContent = { date: "日付", time: "時刻", datetime: "日時" }[mode] || "日時";
    pickerInput.value = button.dataset.initial || "";
    pickerInput.min = button.dataset.min || "";
    pickerInput.max = button.dataset.max || "";
    picker.showModal();
    pickerInput.focus();
  }

  if (picker) {
    document.getElementById("picker-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const button = pickerTarget;
      const mode = button.dataset.mode || "datetime";
      picker.close();
      press(button, { [mode]: pickerInput.value.slice(0, mode === "datetime" ? 16 : undefined) });
    });
    document.getElementById("picker-cancel").addEventListener("click", () => picker.close());
  }

  function startQuote(button) {
    if (!quoteBox) return;
    quoteId.value = button.dataset.message;
    quoteText.textContent = `${button.dataset.who}：${button.dataset.preview}`;
    quoteBox.hidden = false;
    text.focus();
  }

  const quoteCancel = document.getElementById("quote-cancel");
  if (quoteCancel) quoteCancel.addEventListener("click", clearQuote);

  async function simple(button, path, payload) {
    button.disabled = true;
    try {
      afterAction(await call(path, payload));
      tell("");
    } catch (error) {
      tell(error.message, true);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    if (!button) return;
    const act = button.dataset.act;
    if (act === "press" && button.dataset.kind === "datetimepicker") openPicker(button);
    else if (act === "press") press(button);
    else if (act === "quote") startQuote(button);
    else if (act === "unsend") {
      if (window.confirm("このメッセージの送信を取り消しますか？")) {
        simple(button, "/unsend", { chat, person, message: button.dataset.message });
      }
    } else if (act === "api") simple(button, button.dataset.path, JSON.parse(button.dataset.payload));
  });

  // --- start --------------------------------------------------------------------------------
  if (panel && window.matchMedia("(max-width: 47.5em)").matches) panel.open = false;
  paint(document.body);
  lastQuick = quick.innerHTML;
  log.scrollTop = log.scrollHeight;
  window.setInterval(poll, 1000);
  poll();
})();
