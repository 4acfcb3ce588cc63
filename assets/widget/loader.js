/* ChatAI website chat loader: asks the app whether this site may show the chat, then inserts the chat's
   iframe (served by the app, so this page's styles and scripts cannot reach it). No dependency. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-chatai-assistant]");
  if (!script || window.__chataiWidget) return;
  window.__chataiWidget = true;
  var assistant = script.getAttribute("data-chatai-assistant") || "";
  var base = new URL(script.src, location.href).origin;
  var frame = null;

  function place(open, config) {
    var s = frame.style;
    var side = config.position === "left" ? "left" : "right";
    s.position = "fixed"; s.border = "0"; s.zIndex = "2147483000"; s.background = "transparent";
    s.colorScheme = "normal"; s.maxWidth = "100%"; s.maxHeight = "100%";
    s.left = s.right = s.top = s.bottom = "auto";
    var narrow = Math.min(window.innerWidth, screen.width || window.innerWidth) < 480;  /* a phone */
    if (open && narrow) {
      s.top = s.left = s.right = s.bottom = "0"; s.width = "100%"; s.height = "100%";
    } else if (open) {
      s.bottom = "16px"; s[side] = "16px"; s.width = "380px"; s.height = Math.min(640, window.innerHeight - 32) + "px";
    } else {
      s.bottom = "16px"; s[side] = "16px"; s.width = "72px"; s.height = "72px";
    }
  }

  function start(config) {
    /* What became of it, for the site's owner (and checks): "shown", or "refused" (not on the allowed list). */
    script.setAttribute("data-chatai-state", config && config.allowed ? "shown" : "refused");
    if (!config || !config.allowed) return;
    frame = document.createElement("iframe");
    frame.src = config.frame + "?site=" + encodeURIComponent(location.hostname);
    frame.title = "Chat";
    frame.setAttribute("data-chatai", "frame");
    var open = false;
    place(open, config);
    window.addEventListener("message", function (e) {
      if (e.origin !== base || e.source !== frame.contentWindow || !e.data) return;
      if (e.data.chatai === "open" || e.data.chatai === "close") {
        open = e.data.chatai === "open";
        place(open, config);
      }
    });
    window.addEventListener("resize", function () { place(open, config); });
    document.body.appendChild(frame);
  }

  fetch(base + "/widget/config/" + encodeURIComponent(assistant), { credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (config) {
      if (document.body) start(config);
      else document.addEventListener("DOMContentLoaded", function () { start(config); });
    })
    .catch(function () { script.setAttribute("data-chatai-state", "unreachable"); /* the page is unaffected */ });
})();
