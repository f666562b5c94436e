// The Slack sim's channel page: polls /_sim/view/<channel>?user=<id> and renders
// what that person sees (a channel, or their Home tab, and the modal the bot opened
// for them); the composer, the buttons and the modal act as that person through
// /_sim/command, /_sim/click, /_sim/submit_view, /_sim/close_view and /_sim/open_home.
// The rendering functions are pure and exported for tests under node.
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

// Block Kit to HTML. Buttons carry data attributes the click handler reads; in a view
// (`inView`) they are shown disabled, since the sim does not deliver clicks on views.
function renderBlocks(blocks, ts, names, inView) {
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
      case "input":
        return renderInput(block, {});
      case "actions":
        return '<div class="actions">' + (block.elements || []).filter((e) => e.type === "button").map((b) =>
          '<button class="' + escapeHtml(b.style || "") + '"' + (inView ? ' disabled title="clicks in views are not simulated"' : "") + ' data-ts="' + escapeHtml(ts) +
          '" data-action="' + escapeHtml(b.action_id) + '" data-value="' + escapeHtml(b.value || "") + '">' +
          escapeHtml(b.text.text) + "</button>").join("") + "</div>";
      default:
        return "";
    }
  }).join("");
}

// An input block: its label and a text box (a textarea when multiline) carrying the
// block and action ids the submit handler reads; `errors` are the bot's, by block_id.
function renderInput(block, errors) {
  const element = block.element || {};
  const label = '<label class="input-label">' + escapeHtml((block.label && block.label.text) || "") +
    (block.optional ? ' <span class="optional">(optional)</span>' : "") + "</label>";
  if (element.type !== "plain_text_input") {
    return '<div class="input">' + label + '<div class="context">(' + escapeHtml(element.type || "element") + " not shown)</div></div>";
  }
  const attrs = ' data-block="' + escapeHtml(block.block_id || "") + '" data-action="' +
    escapeHtml(element.action_id || "") + '"' +
    (element.placeholder ? ' placeholder="' + escapeHtml(element.placeholder.text || "") + '"' : "");
  const initial = element.initial_value || "";
  const box = element.multiline
    ? "<textarea" + attrs + ">" + escapeHtml(initial) + "</textarea>"
    : '<input type="text"' + attrs + ' value="' + escapeHtml(initial) + '">';
  const error = errors[block.block_id] ? '<div class="input-error">' + escapeHtml(errors[block.block_id]) + "</div>" : "";
  return '<div class="input">' + label + box + error + "</div>";
}

// The modal on top of the person's stack: title, blocks (inputs editable), the bot's
// errors under their inputs, and Cancel / Submit carrying the view id.
function renderModal(modal, names) {
  if (!modal) return "";
  const view = modal.view || {};
  const errors = modal.errors || {};
  const body = (view.blocks || []).map((block) => block.type === "input"
    ? renderInput(block, errors)
    : renderBlocks([block], "", names, true)).join("");
  const id = escapeHtml(modal.id);
  const button = (which, text) => text
    ? '<button class="' + which + '" data-modal="' + which + '" data-view="' + id + '">' + escapeHtml(text.text) + "</button>"
    : "";
  return '<div class="modal" data-view="' + id + '"><h2>' + escapeHtml((view.title && view.title.text) || "") + "</h2>" +
    '<div class="modal-body">' + body + '</div><div class="modal-buttons">' +
    button("cancel", view.close || { text: "Cancel" }) + button("submit", view.submit) + "</div></div>";
}

// The person's Home tab as the bot published it.
function renderHome(home, names) {
  if (!home) return '<div class="context">The bot has not published a Home tab for you yet.</div>';
  return renderBlocks((home.view && home.view.blocks) || [], "", names, true);
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
  module.exports = { escapeHtml, renderMrkdwn, renderBlocks, renderChannel, renderModal, renderHome };
} else {
  const params = new URLSearchParams(location.search);
  let channel = params.get("channel") || "C0DEPLOY";
  let user = params.get("user") || "U0PM";
  const home = params.get("tab") === "home";
  let shown = "";
  let shownModal = "";

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
      const link = (query, label, current) => '<a href="?' + query + "&user=" + encodeURIComponent(user) + '"' +
        (current ? ' class="current"' : "") + ">" + label + "</a>";
      document.getElementById("channels").innerHTML = link("tab=home", "\u2302 Home", home) +
        view.channels.map((c) => link("channel=" + encodeURIComponent(c.id), "# " + escapeHtml(c.name), !home && c.id === channel)).join("");
      const current = view.channels.find((c) => c.id === channel);
      document.getElementById("title").textContent = home ? "Home" : "#" + (current ? current.name : channel);
      document.getElementById("composer").style.display = home ? "none" : "";
      const names = {};
      view.users.forEach((u) => { names[u.id] = u.name; });
      view.channels.forEach((c) => { names[c.id] = c.name; });
      const modalHtml = renderModal(view.modal, names);
      if (modalHtml !== shownModal) {
        // Only when the modal itself changes, so what the person typed survives polls.
        const overlay = document.getElementById("modal");
        overlay.innerHTML = modalHtml;
        overlay.style.display = modalHtml ? "" : "none";
        shownModal = modalHtml;
      }
      const html = home ? renderHome(view.home, names) : renderChannel(view);
      if (html !== shown) {
        const box = document.getElementById("messages");
        const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
        box.innerHTML = html;
        shown = html;
        if (atBottom) box.scrollTop = box.scrollHeight;
      }
    })
    .catch(showError);

  document.getElementById("user").addEventListener("change", (e) => {
    user = e.target.value; shown = ""; shownModal = "";
    if (home) post("/_sim/open_home", { user }).catch(showError);
    refresh();
  });
  document.getElementById("modal").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-modal]");
    if (!button) return;
    const viewId = button.dataset.view;
    if (button.dataset.modal === "cancel") {
      post("/_sim/close_view", { user, view_id: viewId }).then(() => { showError(null); refresh(); }).catch(showError);
      return;
    }
    const values = {};
    document.querySelectorAll("#modal [data-block]").forEach((box) => {
      (values[box.dataset.block] = values[box.dataset.block] || {})[box.dataset.action] = box.value;
    });
    // Force a redraw afterwards: the bot's errors or its update replace the form.
    post("/_sim/submit_view", { user, view_id: viewId, values })
      .then(() => { shownModal = ""; showError(null); refresh(); }).catch(showError);
  });
  // Opening the Home tab is what makes Slack send app_home_opened.
  if (home) post("/_sim/open_home", { user }).catch(showError);
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
