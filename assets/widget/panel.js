/* ChatAI website chat panel (inside the app's iframe). Plain DOM, no framework. Visitor and model text
   never becomes HTML: every text goes in with textContent; answers get a tiny markdown subset (paragraphs,
   lists, **bold**, http(s) links with rel=noopener) built as DOM nodes. */
(function () {
  "use strict";
  var C = JSON.parse(document.getElementById("chatai-config").textContent);
  var T = C.texts;
  var params = new URLSearchParams(location.search);
  var ancestors = location.ancestorOrigins;
  var site = (ancestors && ancestors.length ? new URL(ancestors[0]).hostname : params.get("site") || "").toLowerCase();
  var storeKey = "chatai:" + C.assistant;
  var token = "", dialog = "", cursor = "", handoff = false, busy = false, stream = null, streamGen = 0;
  var fresh = false;  /* "new conversation" pressed: the next message starts one (nothing is stored before) */
  var seen = {}, pending = {};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text) node.textContent = text;
    return node;
  }
  function load() { try { return localStorage.getItem(storeKey) || ""; } catch (e) { return ""; } }
  function save(t) { try { localStorage.setItem(storeKey, t); } catch (e) { /* private mode: this visit only */ } }
  /* "New conversation" pressed and nothing sent since: kept across reloads, or a reload would bring the
     previous conversation back (the new one does not exist until its first message). */
  function startsNew() { try { return localStorage.getItem(storeKey + ":new") === "1"; } catch (e) { return false; } }
  function keepNew(on) {
    try { if (on) localStorage.setItem(storeKey + ":new", "1"); else localStorage.removeItem(storeKey + ":new"); }
    catch (e) { /* private mode: this visit only */ }
  }

  document.documentElement.style.setProperty("--accent", C.accent);
  document.body.className = "side-" + (C.position === "left" ? "left" : "right");
  var launcher = el("button", { type: "button", "data-chatai": "launcher", "aria-label": T.open, "aria-expanded": "false", class: "launcher" });
  launcher.appendChild(el("span", { "aria-hidden": "true", class: "launcher-icon" }, "\u{1F4AC}"));
  var panel = el("section", { role: "dialog", "aria-label": C.title, class: "panel", hidden: "" });
  var head = el("header", { class: "head" });
  if (C.avatar) head.appendChild(el("img", { src: C.avatar, alt: "", class: "avatar" }));
  head.appendChild(el("h1", { class: "title" }, C.title));
  var newButton = el("button", { type: "button", "data-chatai": "new", class: "ghost" }, T.new);
  var closeButton = el("button", { type: "button", "data-chatai": "close", "aria-label": T.close, class: "ghost close" }, "\u00d7");
  head.appendChild(newButton); head.appendChild(closeButton);
  var log = el("div", { role: "log", "aria-live": "polite", class: "log", "data-chatai": "log" });
  var typing = el("div", { class: "typing", "data-chatai": "typing", hidden: "" }, T.typing);
  var form = el("form", { class: "compose" });
  var label = el("label", { for: "chatai-input", class: "sr-only" }, T.input);
  var input = el("textarea", { id: "chatai-input", "data-chatai": "input", rows: "1", maxlength: "2000", placeholder: T.input });
  var send = el("button", { type: "submit", "data-chatai": "send", class: "send" }, T.send);
  var person = el("button", { type: "button", "data-chatai": "person", class: "ghost person", hidden: "" }, T.person);
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(typing); panel.appendChild(person); panel.appendChild(form);
  document.body.appendChild(launcher); document.body.appendChild(panel);

  function setOpen(open) {
    panel.hidden = !open; launcher.hidden = open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    parent.postMessage({ chatai: open ? "open" : "close" }, "*");
    if (open) { input.focus(); log.scrollTop = log.scrollHeight; } else launcher.focus();
  }
  launcher.addEventListener("click", function () { setOpen(true); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !panel.hidden) setOpen(false); });

  /* --- rendering ---------------------------------------------------------------------------- */
  function inline(parent, text) {
    var re = /\*\*([^*]+)\*\*|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1]) parent.appendChild(el("strong", {}, m[1]));
      else parent.appendChild(el("a", { href: m[3], target: "_blank", rel: "noopener noreferrer nofollow" }, m[2]));
      last = re.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }
  function markdown(node, text) {
    node.textContent = "";
    var list = null;
    text.split(/\n/).forEach(function (line) {
      var item = /^\s*(?:[-*\u2022]|\d+[.)])\s+(.*)$/.exec(line);
      if (item) {
        if (!list) { list = el(/^\s*\d/.test(line) ? "ol" : "ul"); node.appendChild(list); }
        var li = el("li"); inline(li, item[1]); list.appendChild(li);
      } else {
        list = null;
        if (line.trim()) { var p = el("p"); inline(p, line); node.appendChild(p); }
      }
    });
  }
  function bubble(role, text, name) {
    var item = el("div", { class: "msg " + role, "data-chatai": "message", "data-role": role });
    if (name) item.appendChild(el("div", { class: "who" }, name));
    var body = el("div", { class: "body" });
    if (role === "assistant" || role === "operator") markdown(body, text); else body.textContent = text;
    item.appendChild(body);
    return item;
  }
  function sources(item, list) {
    if (!list || !list.length) return;
    var box = el("div", { class: "sources" }, T.sources + ": ");
    box.appendChild(document.createTextNode(list.join("; ")));
    item.appendChild(box);
  }
  function scroll() { log.scrollTop = log.scrollHeight; }
  function show(message, replacing) {
    if (seen[message.id]) { if (replacing) replacing.remove(); return; }
    seen[message.id] = true;
    if (message.role === "user" && message.client_id && pending[message.client_id]) {
      pending[message.client_id].removeAttribute("data-pending");
      delete pending[message.client_id];
      return;
    }
    var item = bubble(message.role, message.text, message.name);
    sources(item, message.sources);
    if (replacing) log.replaceChild(item, replacing); else log.appendChild(item);
    scroll();
  }
  function notice(text) { log.appendChild(bubble("system", text)); scroll(); }
  function status(s) { person.hidden = !handoff || s !== "ai"; }

  /* --- the server --------------------------------------------------------------------------- */
  function api(path, body) {
    return fetch(C.api + path + "?lang=" + C.language, {
      method: "POST", credentials: "omit",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
      body: JSON.stringify(body || {})
    });
  }
  function events(response, on) {
    var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = "";
    function pump() {
      return reader.read().then(function (r) {
        if (r.done) return;
        buffer += decoder.decode(r.value, { stream: true });
        var parts = buffer.split("\n\n"); buffer = parts.pop();
        parts.forEach(function (chunk) {
          var name = "message", data = "", id = "";
          chunk.split("\n").forEach(function (line) {
            if (line.indexOf("event: ") === 0) name = line.slice(7);
            else if (line.indexOf("data: ") === 0) data += line.slice(6);
            else if (line.indexOf("id: ") === 0) id = line.slice(4);
          });
          if (data) on(name, JSON.parse(data), id);
        });
        return pump();
      });
    }
    return pump();
  }
  function listen() {
    var gen = ++streamGen;
    if (stream) { stream.abort(); stream = null; }
    if (!dialog) return;
    stream = new AbortController();
    fetch(C.api + "/events?lang=" + C.language + "&dialog=" + dialog + "&after=" + encodeURIComponent(cursor), {
      credentials: "omit", headers: { Authorization: "Bearer " + token }, signal: stream.signal
    }).then(function (response) {
      if (!response.ok) throw new Error("refused");
      return events(response, function (name, data, id) {
        if (id) cursor = id;
        if (name === "message") show(data);
        else if (name === "status") status(data.status);
      });
    }).catch(function () { /* dropped: reconnect below */ }).then(function () {
      if (gen === streamGen) setTimeout(function () { if (gen === streamGen) listen(); }, 2000);
    });
  }
  function begin(startNew) {
    startNew = startNew || startsNew();
    return fetch(C.api + "/session?lang=" + C.language, {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: load(), site: site, new: !!startNew })
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return [r.ok, body]; });
    }).then(function (res) {
      if (!res[0]) { notice(res[1].error || T.unavailable); return; }  /* a sentence, or ours: never a code */
      var s = res[1];
      token = s.token; save(token); dialog = s.dialog; cursor = s.cursor; handoff = s.handoff; fresh = !!startNew; keepNew(fresh);
      log.textContent = ""; seen = {}; pending = {};
      log.appendChild(bubble("assistant", C.welcome));
      s.messages.forEach(function (m) { show(m); });
      status(s.status);
      listen();
    });
  }
  function follow(id) {  /* the conversation a message went to (the one it started): listen to it */
    fresh = false; keepNew(false);
    if (id && id !== dialog) { dialog = id; listen(); }
  }
  function newId() {
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function deliver(text, clientId, mine, attempt) {
    var draft = null;
    typing.hidden = false;
    return api("/messages", { text: text, client_message_id: clientId, dialog: dialog, new: fresh && !dialog }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("text/event-stream") !== 0) {
        return response.json().then(function (body) {
          if (body.error) { mine.remove(); delete pending[clientId]; notice(body.error); }
          else if (body.duplicate) follow(body.dialog);  /* a retry: the answer comes on the events stream */
        });
      }
      return events(response, function (name, data) {
        if (name === "accepted") {
          follow(data.dialog);
          if (data.message) { seen[data.message.id] = true; mine.removeAttribute("data-pending"); delete pending[clientId]; }
        } else if (name === "delta") {
          if (!draft) { draft = bubble("assistant", ""); draft.setAttribute("data-streaming", "true"); log.appendChild(draft); }
          draft.lastChild.textContent += data.text;
          scroll();
        } else if (name === "final" || name === "notice") {
          show(data.message, draft); draft = null;
        } else if (name === "error") {
          notice(data.error);
        }
      });
    }).catch(function () {
      if (attempt < 2) return deliver(text, clientId, mine, attempt + 1); /* same id: stored and answered once */
      notice(T.send_failed);
    }).then(function () { typing.hidden = true; if (draft) draft.remove(); });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || busy) return;
    busy = true; input.value = "";
    var clientId = newId();
    var mine = bubble("user", text); mine.setAttribute("data-pending", "true");
    pending[clientId] = mine; log.appendChild(mine); scroll();
    deliver(text, clientId, mine, 0).then(function () { busy = false; input.focus(); });
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  /* "Talk to a person" is the visitor asking in words: the same handoff as Telegram, stored in the dialog. */
  person.addEventListener("click", function () { input.value = T.person; form.requestSubmit(); });
  newButton.addEventListener("click", function () { begin(true).catch(function () { notice(T.offline); }); });
  begin(false).catch(function () { notice(T.offline); });
})();
