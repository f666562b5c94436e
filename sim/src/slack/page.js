// The Slack sim's channel page: polls /_sim/view/<channel>?user=<id> and renders
// what that person sees; the composer and the buttons act as that person through
// /_sim/command and /_sim/click. The rendering functions are pure and exported for
// tests under node.
"use strict";

function escapeHtml(text) {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

// Slack mrkdwn to HTML. Slack text arrives with &, < and > escaped as entities
// (which HTML shows as the characters), and a raw <…> is a control sequence: a
// mention, a channel, a special mention or a link. Those are rendered first and
// held aside; whatever else a sender left raw is escaped; then ```pre```, `code`,
// *bold*, _italic_, ~strike~ and newlines.
function renderMrkdwn(text, names) {
  names = names || {};
  const held = [];
  const hold = (html) => { held.push(html); return "\u0000" + (held.length - 1) + "\u0000"; };
  let html = String(text).replace(/<([^<>]*)>/g, (_, inner) => hold(controlSequence(inner, names)));
  html = escapeRaw(html);
  html = html.replace(/```([\s\S]*?)```/g, (_, body) => hold("<pre>" + body.replace(/^\n/, "") + "</pre>"));
  html = html
    .replace(/`([^`\n]+)`/g, "<code>$1</code>")
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<b>$2</b>")
    .replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>")
    .replace(/(^|[\s(])~([^~\n]+)~/g, "$1<s>$2</s>")
    .replace(/:([a-z0-9_+-]+):/g, (shortcode, name) => EMOJI[name] || shortcode)
    .replace(/\n/g, "<br>");
  // Twice: a held <pre> may itself hold a mention.
  const restore = (s) => s.replace(/\u0000(\d+)\u0000/g, (_, i) => held[Number(i)]);
  return restore(restore(html));
}

// The emoji the bot uses, as Slack shows them; others stay as their shortcode.
const EMOJI = {
  hourglass_flowing_sand: "\u23f3", hourglass: "\u231b", white_check_mark: "\u2705",
  warning: "\u26a0\ufe0f", no_entry: "\u26d4", memo: "\ud83d\udcdd", x: "\u274c",
  rewind: "\u23ea", mag: "\ud83d\udd0d", heavy_multiplication_x: "\u2716\ufe0f",
  rotating_light: "\ud83d\udea8", rocket: "\ud83d\ude80", tada: "\ud83c\udf89",
};

// Escapes what may not reach the page raw, leaving Slack's own entities alone.
function escapeRaw(text) {
  return String(text).replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function controlSequence(inner, names) {
  const bar = inner.indexOf("|");
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? "" : escapeRaw(inner.slice(bar + 1));
  if (/^@[UW][A-Z0-9]+$/.test(target)) return "<b>@" + escapeRaw(names[target.slice(1)] || label || target.slice(1)) + "</b>";
  if (/^#C[A-Z0-9]+$/.test(target)) return "<b>#" + (label || escapeRaw(names[target.slice(1)] || target.slice(1))) + "</b>";
  if (/^!(here|channel|everyone)$/.test(target)) return "<b>@" + target.slice(1) + "</b>";
  if (/^(https?|mailto):[^"\s]*$/.test(target)) {
    return '<a href="' + escapeRaw(target) + '" target="_blank">' + (label || escapeRaw(target)) + "</a>";
  }
  return escapeHtml("<" + inner + ">");
}

function renderText(object, names) {
  if (!object) return "";
  return object.type === "mrkdwn" ? renderMrkdwn(object.text, names) : escapeHtml(object.text);
}

// Block Kit to HTML. Buttons carry data attributes the click handler reads.
function renderBlocks(blocks, ts, names) {
  return blocks.map((block) => {
    switch (block.type) {
      case "header":
        return "<h3>" + escapeHtml(block.text.text) + "</h3>";
      case "divider":
        return "<hr>";
      case "section": {
        let html = block.text ? "<div>" + renderText(block.text, names) + "</div>" : "";
        if (block.fields) {
          html += '<div class="fields">' + block.fields.map((f) => "<div>" + renderText(f, names) + "</div>").join("") + "</div>";
        }
        return html;
      }
      case "context":
        return '<div class="context">' + (block.elements || []).map((e) => e.text ? renderText(e, names) : "").join(" ") + "</div>";
      case "actions":
        return '<div class="actions">' + (block.elements || []).filter((e) => e.type === "button").map((b) =>
          '<button class="' + escapeHtml(b.style || "") + '" data-ts="' + escapeHtml(ts) +
          '" data-action="' + escapeHtml(b.action_id) + '" data-value="' + escapeHtml(b.value || "") + '">' +
          escapeHtml(b.text.text) + "</button>").join("") + "</div>";
      default:
        return "";
    }
  }).join("");
}

function renderMessage(message, names, extraClass, note) {
  const body = message.blocks && message.blocks.length
    ? renderBlocks(message.blocks, message.ts, names)
    : renderMrkdwn(message.text, names);
  const who = message.bot === false ? (names[message.user] || message.user) : "lockstep";
  const when = new Date(Number(message.ts) * 1000).toLocaleTimeString();
  return '<div class="message ' + (extraClass || "") + '"><span class="who">' + escapeHtml(who) +
    '</span><span class="ts">' + when + (message.edited ? " (edited)" : "") + "</span>" +
    (note ? '<div class="only">' + note + "</div>" : "") + "<div>" + body + "</div></div>";
}

// The whole channel: top-level messages and ephemerals in time order, each
// followed by its thread.
function renderChannel(view) {
  const names = {};
  view.users.forEach((u) => { names[u.id] = u.name; });
  view.channels.forEach((c) => { names[c.id] = c.name; });
  const items = view.messages.map((m) => Object.assign({ kind: "message" }, m))
    .concat(view.ephemerals.map((e) => Object.assign({ kind: "ephemeral", bot: true }, e)));
  const isReply = (m) => m.thread_ts && m.thread_ts !== m.ts;
  const replies = {};
  items.filter(isReply).forEach((m) => { (replies[m.thread_ts] = replies[m.thread_ts] || []).push(m); });
  const byTs = (a, b) => Number(a.ts) - Number(b.ts);
  const render = (m) => m.kind === "ephemeral"
    ? renderMessage(m, names, "ephemeral", "Only visible to you")
    : renderMessage(m, names);
  return items.filter((m) => !isReply(m)).sort(byTs).map((m) => {
    const thread = (replies[m.ts] || []).sort(byTs);
    return render(m) + (thread.length ? '<div class="thread">' + thread.map(render).join("") + "</div>" : "");
  }).join("");
}

if (typeof module !== "undefined") {
  module.exports = { escapeHtml, renderMrkdwn, renderBlocks, renderChannel };
} else {
  const params = new URLSearchParams(location.search);
  let channel = params.get("channel") || "C0DEPLOY";
  let user = params.get("user") || "U0PM";
  let shown = "";

  const post = (path, body) => fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  }).then((r) => r.ok ? r.json() : r.json().then((e) => { throw new Error(e.error || r.statusText); }));
  const showError = (e) => { document.getElementById("error").textContent = e ? String(e.message || e) : ""; };

  const refresh = () => fetch("/_sim/view/" + encodeURIComponent(channel) + "?user=" + encodeURIComponent(user))
    .then((r) => r.json())
    .then((view) => {
      const select = document.getElementById("user");
      if (!select.options.length) {
        view.users.forEach((u) => select.add(new Option("@" + u.name, u.id, false, u.id === user)));
      }
      document.getElementById("channels").innerHTML = view.channels.map((c) =>
        '<a href="?channel=' + encodeURIComponent(c.id) + "&user=" + encodeURIComponent(user) + '"' +
        (c.id === channel ? ' class="current"' : "") + "># " + escapeHtml(c.name) + "</a>").join("");
      const current = view.channels.find((c) => c.id === channel);
      document.getElementById("title").textContent = "#" + (current ? current.name : channel);
      const html = renderChannel(view);
      if (html !== shown) {
        const box = document.getElementById("messages");
        const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
        box.innerHTML = html;
        shown = html;
        if (atBottom) box.scrollTop = box.scrollHeight;
      }
    })
    .catch(showError);

  document.getElementById("user").addEventListener("change", (e) => { user = e.target.value; shown = ""; refresh(); });
  document.getElementById("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.target;
    post("/_sim/command", { user, channel, command: form.command.value, text: form.text.value })
      .then(() => { form.text.value = ""; showError(null); refresh(); })
      .catch(showError);
  });
  document.getElementById("messages").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    const click = { user, channel, message_ts: button.dataset.ts, action_id: button.dataset.action };
    if (button.dataset.value) click.value = button.dataset.value;
    post("/_sim/click", click).then(() => { showError(null); refresh(); }).catch(showError);
  });
  refresh();
  setInterval(refresh, 1000);
}
