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
// *bold*, _italic_, ~strike~, :emoji: and newlines (code is left as written).
function renderMrkdwn(text, names) {
  names = names || {};
  const held = [];
  const hold = (html) => { held.push(html); return "\u0000" + (held.length - 1) + "\u0000"; };
  let html = String(text).replace(/<([^<>]*)>/g, (_, inner) => hold(controlSequence(inner, names)));
  html = escapeRaw(html);
  html = html.replace(/```([\s\S]*?)```/g, (_, body) => hold("<pre>" + body.replace(/^\n/, "") + "</pre>"));
  html = html
    .replace(/`([^`\n]+)`/g, (_, body) => hold("<code>" + body + "</code>"))
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<b>$2</b>")
    .replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>")
    .replace(/(^|[\s(])~([^~\n]+)~/g, "$1<s>$2</s>")
    .replace(/:([a-z0-9_+-]+):/g, (shortcode, name) => (Object.prototype.hasOwnProperty.call(EMOJI, name) ? EMOJI[name] : shortcode))
    .replace(/\n/g, "<br>");
  // Twice: a held <pre> may itself hold a mention.
  const restore = (s) => s.replace(/\u0000(\d+)\u0000/g, (_, i) => held[Number(i)]);
  return restore(restore(html));
}

// Slack's short names as Unicode, so `:white_check_mark:` shows as Slack shows it.
// Every short name lockstep posts is here, with the common rest; an unknown name
// stays as its short name, as Slack shows a custom emoji it cannot find.
const EMOJI = (() => {
  const table = {};
  const add = (names, char) => names.split(" ").forEach((name) => { table[name] = char; });
  [
    // faces and people
    ["smile", "😄"], ["smiley", "😃"], ["grinning", "😀"], ["grin", "😁"], ["laughing satisfied", "😆"],
    ["sweat_smile", "😅"], ["joy", "😂"], ["rolling_on_the_floor_laughing rofl", "🤣"],
    ["slightly_smiling_face", "🙂"], ["upside_down_face", "🙃"], ["wink", "😉"], ["blush", "😊"],
    ["innocent", "😇"], ["heart_eyes", "😍"], ["star-struck star_struck", "🤩"], ["kissing_heart", "😘"],
    ["yum", "😋"], ["stuck_out_tongue", "😛"], ["thinking_face thinking", "🤔"],
    ["face_with_raised_eyebrow", "🤨"], ["neutral_face", "😐"], ["expressionless", "😑"],
    ["no_mouth", "😶"], ["smirk", "😏"], ["unamused", "😒"], ["face_with_rolling_eyes", "🙄"],
    ["grimacing", "😬"], ["relieved", "😌"], ["pensive", "😔"], ["sleepy", "😪"], ["sleeping", "😴"],
    ["mask", "😷"], ["nerd_face", "🤓"], ["sunglasses", "😎"], ["partying_face", "🥳"],
    ["confused", "😕"], ["worried", "😟"], ["slightly_frowning_face", "🙁"], ["open_mouth", "😮"],
    ["hushed", "😯"], ["astonished", "😲"], ["flushed", "😳"], ["pleading_face", "🥺"], ["cry", "😢"],
    ["sob", "😭"], ["scream", "😱"], ["sweat", "😓"], ["weary", "😩"], ["tired_face", "😫"],
    ["triumph", "😤"], ["rage", "😡"], ["angry", "😠"], ["exploding_head", "🤯"], ["skull", "💀"],
    ["hankey poop shit", "💩"], ["clown_face", "🤡"], ["ghost", "👻"], ["alien", "👽"],
    ["robot_face robot", "🤖"], ["see_no_evil", "🙈"], ["hear_no_evil", "🙉"], ["speak_no_evil", "🙊"],
    ["wave", "👋"], ["raised_hand hand", "✋"], ["ok_hand", "👌"], ["+1 thumbsup", "👍"],
    ["-1 thumbsdown", "👎"], ["clap", "👏"], ["raised_hands", "🙌"], ["pray", "🙏"], ["muscle", "💪"],
    ["point_right", "👉"], ["point_left", "👈"], ["point_up", "☝️"], ["point_down", "👇"], ["v", "✌️"],
    ["crossed_fingers hand_with_index_and_middle_fingers_crossed", "🤞"], ["handshake", "🤝"],
    ["eyes", "👀"], ["eye", "👁️"], ["brain", "🧠"], ["bust_in_silhouette", "👤"],
    ["busts_in_silhouette", "👥"], ["man", "👨"], ["woman", "👩"], ["male-detective sleuth_or_spy", "🕵️"],
    // hearts and symbols
    ["heart", "❤️"], ["broken_heart", "💔"], ["green_heart", "💚"], ["blue_heart", "💙"],
    ["yellow_heart", "💛"], ["purple_heart", "💜"], ["sparkling_heart", "💖"], ["100", "💯"],
    ["white_check_mark", "✅"], ["heavy_check_mark", "✔️"], ["ballot_box_with_check", "☑️"], ["x", "❌"],
    ["negative_squared_cross_mark", "❎"], ["heavy_multiplication_x", "✖️"], ["heavy_plus_sign", "➕"],
    ["heavy_minus_sign", "➖"], ["heavy_division_sign", "➗"], ["warning", "⚠️"], ["no_entry", "⛔"],
    ["no_entry_sign", "🚫"], ["exclamation heavy_exclamation_mark", "❗"], ["grey_exclamation", "❕"],
    ["question", "❓"], ["grey_question", "❔"], ["bangbang", "‼️"], ["interrobang", "⁉️"],
    ["information_source", "ℹ️"], ["recycle", "♻️"], ["new", "🆕"], ["free", "🆓"], ["up", "🆙"],
    ["cool", "🆒"], ["ok", "🆗"], ["sos", "🆘"], ["red_circle", "🔴"],
    ["large_blue_circle blue_circle", "🔵"], ["large_green_circle", "🟢"],
    ["large_yellow_circle", "🟡"], ["large_orange_circle", "🟠"], ["white_circle", "⚪"],
    ["black_circle", "⚫"], ["white_large_square", "⬜"], ["black_large_square", "⬛"],
    ["large_green_square", "🟩"], ["large_red_square", "🟥"],
    // arrows and media controls
    ["arrow_right", "➡️"], ["arrow_left", "⬅️"], ["arrow_up", "⬆️"], ["arrow_down", "⬇️"],
    ["arrow_forward", "▶️"], ["arrow_backward", "◀️"], ["rewind", "⏪"], ["fast_forward", "⏩"],
    ["arrows_counterclockwise", "🔄"], ["arrows_clockwise", "🔃"], ["repeat", "🔁"], ["repeat_one", "🔂"],
    ["twisted_rightwards_arrows", "🔀"], ["leftwards_arrow_with_hook", "↩️"],
    ["arrow_right_hook", "↪️"], ["arrow_heading_up", "⤴️"], ["arrow_heading_down", "⤵️"],
    ["back", "🔙"], ["end", "🔚"], ["soon", "🔜"], ["top", "🔝"],
    ["double_vertical_bar pause_button", "⏸️"], ["black_square_for_stop", "⏹️"],
    ["black_circle_for_record", "⏺️"], ["eject", "⏏️"],
    // nature and weather
    ["fire", "🔥"], ["star", "⭐"], ["star2", "🌟"], ["sparkles", "✨"], ["zap", "⚡"],
    ["boom collision", "💥"], ["sunny", "☀️"], ["cloud", "☁️"], ["umbrella", "☔"],
    ["snowflake", "❄️"], ["rainbow", "🌈"], ["ocean", "🌊"], ["seedling", "🌱"],
    ["evergreen_tree", "🌲"], ["deciduous_tree", "🌳"], ["cactus", "🌵"], ["herb", "🌿"],
    ["four_leaf_clover", "🍀"], ["fallen_leaf", "🍂"], ["rose", "🌹"], ["sunflower", "🌻"],
    ["bug", "🐛"], ["bee honeybee", "🐝"], ["snail", "🐌"], ["turtle", "🐢"], ["snake", "🐍"],
    ["dog", "🐶"], ["cat", "🐱"], ["rabbit", "🐰"], ["bear", "🐻"], ["panda_face", "🐼"],
    ["monkey_face", "🐵"], ["unicorn_face", "🦄"], ["earth_africa", "🌍"], ["earth_americas", "🌎"],
    ["earth_asia", "🌏"], ["globe_with_meridians", "🌐"],
    // food
    ["coffee", "☕"], ["tea", "🍵"], ["beer", "🍺"], ["beers", "🍻"], ["pizza", "🍕"],
    ["cake", "🍰"], ["birthday", "🎂"], ["cookie", "🍪"], ["apple", "🍎"],
    // travel and places
    ["rocket", "🚀"], ["airplane", "✈️"], ["car red_car", "🚗"], ["ship", "🚢"], ["anchor", "⚓"],
    ["construction", "🚧"], ["rotating_light", "🚨"], ["traffic_light", "🚥"],
    ["vertical_traffic_light", "🚦"], ["octagonal_sign stop_sign", "🛑"], ["checkered_flag", "🏁"],
    ["triangular_flag_on_post", "🚩"], ["house", "🏠"], ["office", "🏢"], ["hospital", "🏥"],
    ["bank", "🏦"], ["school", "🏫"], ["factory", "🏭"],
    // celebrations
    ["tada", "🎉"], ["confetti_ball", "🎊"], ["balloon", "🎈"], ["gift", "🎁"], ["trophy", "🏆"],
    ["sports_medal medal", "🏅"], ["first_place_medal", "🥇"], ["dart", "🎯"], ["game_die", "🎲"],
    // objects
    ["bell", "🔔"], ["no_bell", "🔕"], ["loudspeaker", "📢"], ["mega", "📣"],
    ["speech_balloon", "💬"], ["thought_balloon", "💭"], ["lock", "🔒"], ["unlock", "🔓"],
    ["key", "🔑"], ["closed_lock_with_key", "🔐"], ["lock_with_ink_pen", "🔏"], ["hammer", "🔨"],
    ["wrench", "🔧"], ["gear", "⚙️"], ["hammer_and_wrench", "🛠️"], ["nut_and_bolt", "🔩"],
    ["shield", "🛡️"], ["link", "🔗"], ["paperclip", "📎"], ["pushpin", "📌"],
    ["round_pushpin", "📍"], ["scissors", "✂️"], ["package", "📦"], ["inbox_tray", "📥"],
    ["outbox_tray", "📤"], ["email envelope", "✉️"], ["e-mail", "📧"], ["mailbox", "📫"],
    ["memo pencil", "📝"], ["pencil2", "✏️"], ["clipboard", "📋"], ["page_facing_up", "📄"],
    ["page_with_curl", "📃"], ["bookmark_tabs", "📑"], ["file_folder", "📁"],
    ["open_file_folder", "📂"], ["card_index", "📇"], ["chart_with_upwards_trend", "📈"],
    ["chart_with_downwards_trend", "📉"], ["bar_chart", "📊"], ["calendar", "📆"], ["date", "📅"],
    ["spiral_calendar_pad spiral_calendar", "🗓️"], ["books", "📚"], ["book open_book", "📖"],
    ["notebook", "📓"], ["ledger", "📒"], ["newspaper", "📰"], ["label", "🏷️"], ["bookmark", "🔖"],
    ["mag", "🔍"], ["mag_right", "🔎"], ["bulb", "💡"], ["flashlight", "🔦"],
    ["floppy_disk", "💾"], ["cd", "💿"], ["dvd", "📀"], ["computer", "💻"],
    ["desktop_computer", "🖥️"], ["keyboard", "⌨️"], ["iphone", "📱"], ["telephone_receiver", "📞"],
    ["battery", "🔋"], ["electric_plug", "🔌"], ["satellite_antenna satellite", "📡"],
    ["moneybag", "💰"], ["dollar", "💵"], ["credit_card", "💳"], ["hourglass", "⌛"],
    ["hourglass_flowing_sand", "⏳"], ["watch", "⌚"], ["alarm_clock", "⏰"], ["stopwatch", "⏱️"],
    ["timer_clock", "⏲️"], ["test_tube", "🧪"], ["microscope", "🔬"], ["toolbox", "🧰"],
  ].forEach(([names, char]) => add(names, char));
  return table;
})();

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

function renderMessage(message, names, extraClass, note, footer) {
  const body = message.blocks && message.blocks.length
    ? renderBlocks(message.blocks, message.ts, names)
    : renderMrkdwn(message.text, names);
  const who = message.bot === false ? (names[message.user] || message.user) : "lockstep";
  const when = new Date(Number(message.ts) * 1000).toLocaleTimeString();
  return '<div class="message ' + (extraClass || "") + '" data-ts="' + escapeHtml(message.ts) + '"><span class="who">' +
    escapeHtml(who) + '</span><span class="ts">' + when + (message.edited ? " (edited)" : "") + "</span>" +
    (note ? '<div class="only">' + note + "</div>" : "") + "<div>" + body + "</div>" + (footer || "") + "</div>";
}

// A channel's messages and the ephemerals the person sees there, each marked with
// its kind; replies (in a thread, not its root) apart, by thread.
function channelItems(view) {
  const items = view.messages.map((m) => Object.assign({ kind: "message" }, m))
    .concat(view.ephemerals.map((e) => Object.assign({ kind: "ephemeral", bot: true }, e)));
  const isReply = (m) => m.thread_ts && m.thread_ts !== m.ts;
  const replies = {};
  items.filter(isReply).forEach((m) => { (replies[m.thread_ts] = replies[m.thread_ts] || []).push(m); });
  const byTs = (a, b) => Number(a.ts) - Number(b.ts);
  Object.values(replies).forEach((thread) => thread.sort(byTs));
  return { roots: items.filter((m) => !isReply(m)).sort(byTs), replies };
}

function namesOf(view) {
  const names = {};
  view.users.forEach((u) => { names[u.id] = u.name; });
  view.channels.forEach((c) => { names[c.id] = c.name; });
  return names;
}

function renderItem(m, names, extraClass, footer) {
  return m.kind === "ephemeral"
    ? renderMessage(m, names, "ephemeral " + (extraClass || ""), "Only visible to you", footer)
    : renderMessage(m, names, extraClass, null, footer);
}

// The channel as Slack shows it: top-level messages and ephemerals in time order,
// a thread's replies summed up under its root as a link that opens it beside the
// channel (`openTs`: the thread open now, marked).
function renderChannel(view, openTs) {
  const names = namesOf(view);
  const { roots, replies } = channelItems(view);
  return roots.map((m) => {
    const thread = replies[m.ts] || [];
    const footer = thread.length
      ? '<a class="replies" href="#" data-thread="' + escapeHtml(m.ts) + '">' + thread.length +
        (thread.length === 1 ? " reply" : " replies") + "</a>"
      : "";
    return renderItem(m, names, m.ts === openTs ? "open-thread" : "", footer);
  }).join("");
}

// One thread, as the pane beside the channel shows it: its root, then its replies
// (the person's ephemerals in it included), oldest first. Empty when the root is gone.
function renderThread(view, ts) {
  const names = namesOf(view);
  const { roots, replies } = channelItems(view);
  const root = roots.find((m) => m.ts === ts);
  if (!root) return "";
  return renderItem(root, names, "root") + (replies[ts] || []).map((m) => renderItem(m, names)).join("");
}

if (typeof module !== "undefined") {
  module.exports = { escapeHtml, renderMrkdwn, renderBlocks, renderChannel, renderThread, renderModal, renderHome, EMOJI };
} else {
  const params = new URLSearchParams(location.search);
  let channel = params.get("channel") || "C0DEPLOY";
  let user = params.get("user") || "U0PM";
  const home = params.get("tab") === "home";
  // The thread open beside the channel (its root's ts), if any.
  let openThread = params.get("thread");
  let shown = "";
  let shownThread = "";
  let shownModal = "";
  let lastView = null;

  const post = (path, body) => fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  }).then((r) => r.ok ? r.json() : r.json().then((e) => { throw new Error(e.error || r.statusText); }));
  const showError = (e) => { document.getElementById("error").textContent = e ? String(e.message || e) : ""; };

  // Replaces a scrolling box's content, keeping it at the bottom if it was there.
  const replace = (box, html) => {
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    box.innerHTML = html;
    if (atBottom) box.scrollTop = box.scrollHeight;
  };

  const draw = (view) => {
    const names = namesOf(view);
    const modalHtml = renderModal(view.modal, names);
    if (modalHtml !== shownModal) {
      // Only when the modal itself changes, so what the person typed survives polls.
      const overlay = document.getElementById("modal");
      overlay.innerHTML = modalHtml;
      overlay.style.display = modalHtml ? "" : "none";
      shownModal = modalHtml;
    }
    const html = home ? renderHome(view.home, names) : renderChannel(view, openThread);
    if (html !== shown) {
      replace(document.getElementById("messages"), html);
      shown = html;
    }
    const pane = document.getElementById("thread");
    const threadHtml = openThread && !home ? renderThread(view, openThread) : "";
    pane.hidden = !threadHtml;
    if (threadHtml !== shownThread) {
      replace(document.getElementById("thread-messages"), threadHtml);
      shownThread = threadHtml;
    }
  };

  const refresh = () => fetch("/_sim/view/" + encodeURIComponent(channel) + "?user=" + encodeURIComponent(user))
    .then((r) => r.json())
    .then((view) => {
      lastView = view;
      const select = document.getElementById("user");
      if (!select.options.length) {
        view.users.filter((u) => u.id !== view.bot_user)
          .forEach((u) => select.add(new Option("@" + u.name, u.id, false, u.id === user)));
      }
      const link = (query, label, current) => '<a href="?' + query + "&user=" + encodeURIComponent(user) + '"' +
        (current ? ' class="current"' : "") + ">" + label + "</a>";
      document.getElementById("channels").innerHTML = link("tab=home", "\u2302 Home", home) +
        view.channels.map((c) => link("channel=" + encodeURIComponent(c.id), "# " + escapeHtml(c.name), !home && c.id === channel)).join("");
      const current = view.channels.find((c) => c.id === channel);
      document.getElementById("title").textContent = home ? "Home" : "#" + (current ? current.name : channel);
      document.getElementById("composer").style.display = home ? "none" : "";
      draw(view);
    })
    .catch(showError);

  document.getElementById("user").addEventListener("change", (e) => {
    // null, not "": whatever the new person sees (even no modal) is drawn afresh.
    user = e.target.value; shown = null; shownThread = null; shownModal = null;
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
    // Force a redraw afterwards: the bot's errors or its update replace the form, and
    // a modal the submission closed must disappear (null differs from "no modal").
    post("/_sim/submit_view", { user, view_id: viewId, values })
      .then(() => { shownModal = null; showError(null); refresh(); }).catch(showError);
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
  const onMessagesClick = (e) => {
    const replies = e.target.closest("a[data-thread]");
    if (replies) {
      e.preventDefault();
      openThread = replies.dataset.thread;
      if (lastView) draw(lastView);
      return;
    }
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    const click = { user, channel, message_ts: button.dataset.ts, action_id: button.dataset.action };
    if (button.dataset.value) click.value = button.dataset.value;
    post("/_sim/click", click).then(() => { showError(null); refresh(); }).catch(showError);
  };
  document.getElementById("messages").addEventListener("click", onMessagesClick);
  document.getElementById("thread-messages").addEventListener("click", onMessagesClick);
  document.getElementById("close-thread").addEventListener("click", () => {
    openThread = null;
    if (lastView) draw(lastView);
  });
  refresh();
  setInterval(refresh, 700);
}
